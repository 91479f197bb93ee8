import { describe, expect, it } from 'vitest';
import { planRanges } from '../../server/copy/stream-plan.js';

const MIB = 1024 * 1024;

describe('ranged streams for one large file', () => {
  it.each([
    [0, 10 * MIB, 4, 1],
    [0, 1024 * MIB, 4, 4],
    [0, 1024 * MIB, 8, 8],
    [0, 100 * MIB, 8, 4],
    [900 * MIB, 1024 * MIB, 4, 4],
    [1000 * MIB, 1024 * MIB, 4, 1],
  ])('from %d of %d bytes with at most %d streams: %d ranges covering the rest exactly once', (from, size, max, n) => {
    const r = planRanges(from, size, max);
    expect(r).toHaveLength(n);
    expect(r[0]!.start).toBe(from);
    for (let i = 1; i < r.length; i++) expect(r[i]!.start).toBe(r[i - 1]!.start + r[i - 1]!.len);
    expect(r.at(-1)!.start + r.at(-1)!.len).toBe(size);
  });

  it('plans one empty range for an empty remainder', () => {
    expect(planRanges(5, 5, 4)).toEqual([{ start: 5, len: 0 }]);
  });
});
