import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outstanding } from '../../server/profiles/reservations.js';
import { PgReservations } from '../../server/store/pg-reservations.js';
import { PG_SCHEMA_AUDIT, PG_SCHEMA_V1, PG_SCHEMA_V2_FROM_V1 } from '../../server/store/pg-schema.js';
import { PgJobStore, StoreUnavailable } from '../../server/store/pg-store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// Budget reservations of replicas: one table, check-and-reserve serialized by an advisory lock.
let postgres: TestPostgres;
const opened: PgJobStore[] = [];
beforeAll(async () => {
  postgres = await startTestPostgres();
}, 180_000);
afterAll(async () => {
  for (const s of opened) await s.close();
  await postgres?.stop();
});

function store(url: string): PgJobStore {
  const s = new PgJobStore(url, { max: 3 });
  opened.push(s);
  return s;
}

const none = new Map<number, number>();
const sum = (o: Outstanding[]) => o.reduce((s, r) => s + r.amount, 0);

describe('budget reservations in the shared store', () => {
  it('concurrent reserves through two replicas serialize: the later check sees the earlier reservation', async () => {
    const url = await postgres.newDatabase();
    const replicas = [new PgReservations(store(url)), new PgReservations(store(url))];
    const seen: number[] = [];
    // A budget of $1 and six reserves of $0.70 at once, three through each replica: exactly one fits.
    const check = (o: Outstanding[]) => {
      seen.push(o.length);
      if (sum(o) + 0.7 > 1) throw new Error('over budget');
    };
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => replicas[i % 2]!.reserve(0.7, ['overall'], 1000, 4600, none, check)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) expect(String((r as PromiseRejectedResult).reason)).toMatch(/over budget/);
    expect(seen.sort()).toEqual([0, 1, 1, 1, 1, 1]);
    const [a, b] = replicas;
    expect((await b!.outstanding(1100, none)).map((o) => o.amount)).toEqual([0.7]);
    expect(await a!.outstanding(4601, none)).toEqual([]);
  });

  it('bind and release reduce what is outstanding, on every replica', async () => {
    const url = await postgres.newDatabase();
    const a = new PgReservations(store(url));
    const b = new PgReservations(store(url));
    const x = await a.reserve(1, ['overall'], 1000, 4600, none, () => undefined, 0.5);
    const y = await b.reserve(2, ['overall', 'project:p'], 1000, 4600, none, () => undefined);
    const z = await a.reserve(3, ['overall'], 1000, 4600, none, () => undefined);
    await b.bind(x, [7]);
    await a.release(y);
    // A start of an existing instance: what it had charged before (its baseline) does not pay the reservation off.
    await b.bind(z, [8], 0.5);
    const charged = new Map([
      [7, 0.25],
      [8, 1.5],
    ]);
    expect(await b.outstanding(1100, charged)).toEqual([
      { id: x, amount: 0.75, per_hour: 0.5, scopes: ['overall'], instance_ids: [7] },
      { id: z, amount: 2, per_hour: 0, scopes: ['overall'], instance_ids: [8] },
    ]);
    await b.release(z);
    expect((await a.outstanding(1100, charged)).map((o) => o.id)).toEqual([x]);
    // A refused check reserves nothing.
    await expect(
      a.reserve(5, ['overall'], 1000, 4600, none, () => {
        throw new Error('over budget');
      }),
    ).rejects.toThrow('over budget');
    expect(await a.outstanding(1100, none)).toHaveLength(1);
  });

  it('a store of an earlier schema gains the reservations table as it is', async () => {
    const url = await postgres.newDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(PG_SCHEMA_V1);
    await client.query(PG_SCHEMA_V2_FROM_V1);
    await client.query(PG_SCHEMA_AUDIT);
    expect((await client.query("SELECT to_regclass('budget_reservations') AS t")).rows[0].t).toBeNull();
    await client.end();
    const r = new PgReservations(store(url));
    const id = await r.reserve(1, ['overall'], 1000, 4600, none, () => undefined);
    expect((await r.outstanding(1100, none)).map((o) => o.id)).toEqual([id]);
  });

  it('a store out of reach refuses, as StoreUnavailable, without the password', async () => {
    const r = new PgReservations(store('postgres://vast:secret-pw@127.0.0.1:1/vast'));
    let checked = false;
    const err = await r
      .reserve(1, ['overall'], 1000, 4600, none, () => {
        checked = true;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailable);
    expect((err as Error).message).not.toMatch(/secret-pw/);
    expect(checked).toBe(false);
    await expect(r.outstanding(1000, none)).rejects.toBeInstanceOf(StoreUnavailable);
  });
});
