import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../server/errors.js';
import { buildSearchBody, parseOrder, parseQuery } from '../../server/vast/query.js';
import { filterAndSort, parseSearchBody, QueryError } from '../../sim/offer-query.js';

const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

afterEach(() => {
  // Nothing may have been written onto Object.prototype.
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>).eq).toBeUndefined();
});

describe('prototype keys in offer queries', () => {
  it.each(PROTO_NAMES)('refuses %s as a field name with a clear error and pollutes nothing', (name) => {
    for (const q of [`${name}=1`, `gpu_name=RTX_4090 ${name}>=2`, `${name} in [a,b]`]) {
      expect(() => parseQuery(q)).toThrow(InputError);
      expect(() => parseQuery(q)).toThrow(/not a field/);
    }
  });

  it('refuses prototype names as orderings and operators', () => {
    expect(() => parseOrder('constructor-')).toThrow(InputError);
    expect(() => parseOrder('__proto__')).toThrow(InputError);
    expect(() => parseQuery('num_gpus constructor 2')).toThrow(InputError);
  });

  it('still builds ordinary queries, with own-property objects only', () => {
    const { body } = buildSearchBody({ query: 'num_gpus>=2 cuda_vers>=12' });
    expect(body.num_gpus).toEqual({ gte: '2' });
    expect(Object.getPrototypeOf(body.num_gpus)).toBe(Object.prototype);
    expect(body.cuda_max_good).toBeDefined();
  });

  it('the simulator refuses a body with prototype keys (400), never walks the prototype chain', () => {
    for (const raw of ['{"__proto__":{"eq":1}}', '{"constructor":{"eq":1}}', '{"num_gpus":{"__proto__":1}}', '{"order":[["__proto__","asc"]]}']) {
      expect(() => parseSearchBody(JSON.parse(raw))).toThrow(QueryError);
    }
    const rows = [
      { id: 1, num_gpus: 1 },
      { id: 2, num_gpus: 2 },
    ] as never[];
    const search = parseSearchBody({ num_gpus: { gte: 2 } });
    expect(filterAndSort(rows, search).map((r: { id: number }) => r.id)).toEqual([2]);
  });
});
