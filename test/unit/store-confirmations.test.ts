import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfirmationStore } from '../../server/safety/confirmations.js';
import { PgConfirmations } from '../../server/store/pg-confirmations.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

let pg: TestPostgres;
const opened: PgJobStore[] = [];
beforeAll(async () => {
  pg = await startTestPostgres();
  // initdb and a first start are slow on a loaded machine.
}, 180_000);
afterAll(async () => {
  for (const s of opened) await s.close();
  await pg?.stop();
});

/** Two replicas: each its own pool on one shared PostgreSQL database. */
async function replicas(now: () => number = () => 1000): Promise<{ a: ConfirmationStore; b: ConfirmationStore; raw: PgJobStore }> {
  const url = await pg.newDatabase();
  const [sa, sb] = [new PgJobStore(url), new PgJobStore(url)];
  opened.push(sa, sb);
  return { a: new ConfirmationStore(600, now, new PgConfirmations(sa)), b: new ConfirmationStore(600, now, new PgConfirmations(sb)), raw: sa };
}

describe('confirmation tokens in the shared store (replicas)', () => {
  it('a token issued on one replica is honoured once on the other, then refused everywhere; only its hash is stored', async () => {
    const { a, b, raw } = await replicas();
    const t = await a.issue('create', { offer: 7, price: 0.5 }, { quoted: [1, 2] });
    const rows = await raw.exec('SELECT * FROM confirmations');
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(t.token);
    expect(JSON.stringify(rows)).not.toContain(t.token.split('-')[1]);
    expect(await b.consume(t.token, 'create', { price: 0.5, offer: 7 })).toEqual({ ok: true, payload: { quoted: [1, 2] } });
    expect(await a.consume(t.token, 'create', { price: 0.5, offer: 7 })).toEqual({ ok: false, reason: 'unknown' });
    expect(await b.consume(t.token, 'create', { price: 0.5, offer: 7 })).toEqual({ ok: false, reason: 'unknown' });
  });

  it('two replicas redeeming one token at the same moment: exactly one succeeds', async () => {
    const { a, b } = await replicas();
    for (let i = 0; i < 10; i++) {
      const t = await a.issue('destroy', { id: i });
      const results = await Promise.all([a.consume(t.token, 'destroy', { id: i }), b.consume(t.token, 'destroy', { id: i })]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
    }
  });

  it('a replica that dies between claiming a token and renting loses it only for the lease: another takes it over, the dead claim cannot commit', async () => {
    let now = 1000;
    const { a, b } = await replicas(() => now);
    const t = await a.issue('create', { offer: 9 }, { plan: 'p' });
    const dying = await a.claim(t.token, 'create', { offer: 9 });
    expect(dying.ok).toBe(true);
    // Within the lease the token is in use: a second call is told to wait (nothing consumed).
    now += 30;
    expect(await b.consume(t.token, 'create', { offer: 9 })).toEqual({ ok: false, reason: 'in_use', retryInSeconds: 30 });
    now += 31;
    const taken = await b.claim(t.token, 'create', { offer: 9 });
    expect(taken).toMatchObject({ ok: true, payload: { plan: 'p' } });
    // The first call, had it lived, may no longer rent with it; the second uses it up, once.
    expect(dying.ok && (await dying.commit())).toBe(false);
    expect(taken.ok && (await taken.commit())).toBe(true);
    expect(await a.consume(t.token, 'create', { offer: 9 })).toEqual({ ok: false, reason: 'unknown' });
  });

  it('a refused token is spent (mismatch, wrong kind, expired) and a declined plan is declined on every replica', async () => {
    let now = 1000;
    const { a, b } = await replicas(() => now);
    const t1 = await a.issue('create', { offer: 1 });
    expect(await b.consume(t1.token, 'create', { offer: 2 })).toEqual({ ok: false, reason: 'mismatch' });
    expect(await a.consume(t1.token, 'create', { offer: 1 })).toEqual({ ok: false, reason: 'unknown' });
    const t2 = await a.issue('start', { id: 3 });
    expect(await b.consume(t2.token, 'destroy', { id: 3 })).toEqual({ ok: false, reason: 'wrong_kind' });
    const t3 = await a.issue('bid', { id: 4 });
    now += 601;
    expect(await b.consume(t3.token, 'bid', { id: 4 })).toEqual({ ok: false, reason: 'expired' });
    expect(await b.isDeclined('job_submit', { spec: 1 })).toBe(false);
    await a.markDeclined('job_submit', { spec: 1 });
    await a.markDeclined('job_submit', { spec: 1 });
    expect(await b.isDeclined('job_submit', { spec: 1 })).toBe(true);
    expect(await b.isDeclined('job_submit', { spec: 2 })).toBe(false);
  });
});
