import { describe, expect, it } from 'vitest';
import { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingPercent } from '../../server/heap-limits.js';

describe('heapGrowingPercent (VAST_MCP_HEAP_GROWING_PERCENT)', () => {
  it('defaults to a fixed headroom of 1.5 times the live heap', () => {
    expect(DEFAULT_HEAP_GROWING_PERCENT).toBe(150);
    expect(heapGrowingPercent({})).toBe(150);
    expect(heapGrowingPercent({ VAST_MCP_HEAP_GROWING_PERCENT: '  ' })).toBe(150);
  });

  it('takes a whole number from 0 (V8 decides) to 1000', () => {
    expect(heapGrowingPercent({ VAST_MCP_HEAP_GROWING_PERCENT: '0' })).toBe(0);
    expect(heapGrowingPercent({ VAST_MCP_HEAP_GROWING_PERCENT: ' 50 ' })).toBe(50);
    expect(heapGrowingPercent({ VAST_MCP_HEAP_GROWING_PERCENT: '1000' })).toBe(1000);
  });

  it('refuses anything else, naming the variable and the range', () => {
    for (const bad of ['1001', '-5', '1.5', '2e2', 'lots', '99999'])
      expect(() => heapGrowingPercent({ VAST_MCP_HEAP_GROWING_PERCENT: bad })).toThrow(
        /VAST_MCP_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000/,
      );
  });
});
