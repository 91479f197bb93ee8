import { describe, expect, it } from 'vitest';
import { InputError } from '../../server/errors.js';
import { buildSearchBody, packVersion, parseOrder, parseQuery } from '../../server/vast/query.js';

describe('parseQuery', () => {
  it.each([
    ['gpu_name=RTX_4090', { gpu_name: { eq: 'RTX 4090' } }],
    ['num_gpus>=2', { num_gpus: { gte: '2' } }],
    ['num_gpus >= 2', { num_gpus: { gte: '2' } }],
    ['num_gpus gte 2', { num_gpus: { gte: '2' } }],
    ['verified=True rentable=false', { verified: { eq: true }, rentable: { eq: false } }],
    ['cluster_id=null', { cluster_id: { eq: null } }],
    ['cluster_id=None', { cluster_id: { eq: null } }],
    ['geolocation notin [US,CA]', { geolocation: { notin: ['US', 'CA'] } }],
    ['geolocation nin [DE]', { geolocation: { notin: ['DE'] } }],
    ['geolocation not in [DE]', { geolocation: { notin: ['DE'] } }],
    ['gpu_name in [RTX_4090,A100_SXM4]', { gpu_name: { in: ['RTX 4090', 'A100 SXM4'] } }],
    ['gpu_ram>=24', { gpu_ram: { gte: 24000 } }],
    ['gpu_total_ram<80.5', { gpu_total_ram: { lt: 80500 } }],
    ['cpu_ram>32', { cpu_ram: { gt: 32000 } }],
    ['duration>=2', { duration: { gte: 172800 } }],
    ['driver_version>=535.86.05', { driver_version: { gte: 535086005 } }],
    ['dph<1.5', { dph_total: { lt: '1.5' } }],
    ['dlperf_usd>10', { dlperf_per_dphtotal: { gt: '10' } }],
    ['flops_usd>3', { flops_per_dphtotal: { gt: '3' } }],
    ['cuda_vers>=12.1', { cuda_max_good: { gte: '12.1' } }],
    ['reliability>0.98', { reliability: { gt: '0.98' } }],
    ['num_gpus>1 num_gpus<=4', { num_gpus: { gt: '1', lte: '4' } }],
    ['gpu_name="RTX 4090"', { gpu_name: { eq: 'RTX 4090' } }],
    ['num_gpus!=3', { num_gpus: { neq: '3' } }],
  ])('%s', (text, expected) => {
    expect(parseQuery(text).query).toStrictEqual(expected);
  });

  it('removes a default filter with any, * or ?', () => {
    for (const w of ['any', '*', '?']) {
      const base = { rented: { eq: false }, verified: { eq: true } };
      expect(parseQuery(`rented=${w}`, base).query).toStrictEqual({ verified: { eq: true } });
    }
  });

  it('warns about unknown fields but keeps them', () => {
    const r = parseQuery('nickname=bob');
    expect(r.query).toStrictEqual({ nickname: { eq: 'bob' } });
    expect(r.warnings[0]).toMatch(/Unrecognized field nickname/);
  });

  it.each([
    ['num_gpus=', /No value after/],
    ['rented>any', /only works with =/],
    ['num_gpus=1 , reliability>0.9', /Could not parse/],
    ['num_gpus ~ 2', /Unknown operator/],
    ['gpu_ram>=lots', /needs a single number/],
    ['driver_version>=535.86', /must look like/],
  ])('rejects %s with an actionable message', (text, message) => {
    expect(() => parseQuery(text)).toThrow(InputError);
    expect(() => parseQuery(text)).toThrow(message);
  });
});

describe('ordering and body', () => {
  it('parses -o like the CLI', () => {
    expect(parseOrder('score-')).toStrictEqual([['score', 'desc']]);
    expect(parseOrder('dlperf_usd-,num_gpus')).toStrictEqual([
      ['dlperf_per_dphtotal', 'desc'],
      ['num_gpus', 'asc'],
    ]);
    expect(parseOrder('-dph,+reliability')).toStrictEqual([
      ['dph_total', 'desc'],
      ['reliability', 'asc'],
    ]);
  });

  it('rewrites interruptible to bid and always sends allocated_storage', () => {
    const { body } = buildSearchBody({ type: 'interruptible' });
    expect(body.type).toBe('bid');
    expect(body.allocated_storage).toBe(5);
    expect(body).not.toHaveProperty('limit');
  });

  it('packs driver versions to three digits per part', () => {
    expect(packVersion('550.54.14')).toBe(550054014);
    expect(packVersion('1.2.3')).toBe(1002003);
  });
});
