import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { limitsInWords, portableSchema, withLimitsInDescriptions } from '../../tools/portable-schema.js';

describe('portableSchema', () => {
  it('splits a nullable type array (what zod 4 emits for .nullable()) into anyOf branches with one type each', () => {
    const listed = z.toJSONSchema(z.object({ vram: z.number().nullable().describe('VRAM, GB') }), { target: 'draft-7', io: 'output' });
    expect((listed.properties as Record<string, unknown>).vram).toEqual({ description: 'VRAM, GB', type: ['number', 'null'] });
    const out = portableSchema(listed);
    expect((out.properties as Record<string, unknown>).vram).toEqual({ description: 'VRAM, GB', anyOf: [{ type: 'number' }, { type: 'null' }] });
  });

  it('keeps constraints with every non-null branch and annotations at the top', () => {
    expect(portableSchema({ type: ['string', 'null'], maxLength: 5, title: 'T' })).toEqual({
      title: 'T',
      anyOf: [{ type: 'string', maxLength: 5 }, { type: 'null' }],
    });
    expect(portableSchema({ type: ['string'] })).toEqual({ type: 'string' });
  });

  it('rewrites nested positions: items, anyOf branches, additionalProperties, $defs', () => {
    const out = portableSchema({
      type: 'object',
      properties: { list: { type: 'array', items: { type: ['integer', 'null'] } }, rec: { type: 'object', additionalProperties: {} } },
      $defs: { a: { anyOf: [{ type: ['string', 'null'] }, { type: 'boolean' }] } },
    });
    expect(out).toEqual({
      type: 'object',
      properties: {
        list: { type: 'array', items: { anyOf: [{ type: 'integer' }, { type: 'null' }] } },
        rec: { type: 'object', additionalProperties: true },
      },
      $defs: { a: { anyOf: [{ anyOf: [{ type: 'string' }, { type: 'null' }] }, { type: 'boolean' }] } },
    });
  });

  it('spells a schema that says nothing as an explicit any-JSON-value schema, except under not', () => {
    const out = portableSchema({ type: 'object', properties: { v: { description: 'anything' } }, not: {} });
    expect((out.properties as Record<string, Record<string, unknown>>).v!.description).toBe('anything');
    expect(((out.properties as Record<string, Record<string, unknown>>).v!.anyOf as unknown[]).length).toBe(6);
    expect(out.not).toEqual({});
  });

  it('does not mutate its input', () => {
    const input = { type: 'object', properties: { a: { type: ['string', 'null'] } } };
    const copy = structuredClone(input);
    portableSchema(input);
    expect(input).toEqual(copy);
  });
});

describe('limits in descriptions (Codex drops min/max/length/pattern)', () => {
  it('says each kind of limit in words', () => {
    expect(limitsInWords({ type: 'integer', minimum: 1, maximum: 3600 })).toBe('integer, 1–3600');
    expect(limitsInWords({ type: 'integer', exclusiveMinimum: 0, maximum: Number.MAX_SAFE_INTEGER })).toBe('a positive integer');
    expect(limitsInWords({ type: 'number', exclusiveMinimum: 0, maximum: 1000 })).toBe('greater than 0, at most 1000');
    expect(limitsInWords({ type: 'string', minLength: 1, maxLength: 100000 })).toBe('at most 100000 characters');
    expect(limitsInWords({ type: 'string', minLength: 2, maxLength: 64 })).toBe('2–64 characters');
    expect(limitsInWords({ type: 'array', maxItems: 50, items: { type: 'string', pattern: '^[A-Z]{2}$' } })).toBe(
      'at most 50 items, each matching /^[A-Z]{2}$/',
    );
    expect(limitsInWords({ type: 'boolean' })).toBe('');
  });

  it('appends the limits to the description once, and not when the description already states them', () => {
    const out = withLimitsInDescriptions({
      type: 'object',
      properties: {
        command: { type: 'string', maxLength: 100000, description: 'Shell command' },
        reliability: { type: 'number', minimum: 0, maximum: 1, description: 'Minimum reliability, 0–1' },
        flag: { type: 'boolean', description: 'A flag' },
      },
    });
    const p = out.properties as Record<string, { description: string }>;
    expect(p.command!.description).toBe('Shell command (Limits: at most 100000 characters.)');
    expect(p.reliability!.description).toBe('Minimum reliability, 0–1');
    expect(p.flag!.description).toBe('A flag');
  });
});
