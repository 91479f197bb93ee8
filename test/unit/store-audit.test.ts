import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretRegistry } from '../../server/secrets.js';
import { AuditLog, AuditUnreadable } from '../../server/state/audit-log.js';
import { PgAuditMirror } from '../../server/store/pg-audit.js';
import { PG_SCHEMA_V1, PG_SCHEMA_V2_FROM_V1 } from '../../server/store/pg-schema.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// The audit log of replicas: each state directory's file is the outbox, mirrored into one PostgreSQL table.
let postgres: TestPostgres;
const opened: PgJobStore[] = [];
const dirs: string[] = [];
const quiet = pino({ level: 'silent' });
beforeAll(async () => {
  postgres = await startTestPostgres();
}, 180_000);
afterAll(async () => {
  for (const s of opened) await s.close();
  await postgres?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function store(url: string): PgJobStore {
  const s = new PgJobStore(url, { max: 2 });
  opened.push(s);
  return s;
}
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'audit-mirror-'));
  dirs.push(d);
  return d;
}
/** A log as build-deps.ts makes it for a replica, optionally rotating early. */
function replicaLog(s: PgJobStore, dir: string, rotateBytes?: number): { log: AuditLog; mirror: PgAuditMirror } {
  const mirror = new PgAuditMirror(s, dir, quiet);
  return { log: new AuditLog(dir, new SecretRegistry(), undefined, rotateBytes, mirror), mirror };
}
const rec = (i: number, pad = 0) => ({ tool: 't', action: 'start', args: { i, pad: 'p'.repeat(pad) }, result: 'ok' as const, instance_id: 1 });
const indices = (entries: { args: unknown }[]) => entries.map((e) => (e.args as { i: number }).i);
const rowCount = async (s: PgJobStore) => Number((await s.exec('SELECT count(*) AS n FROM audit_log'))[0]!.n);

describe('audit log mirrored into the shared store', () => {
  it('a record mirrored twice (a lost cursor, a second process on the same state dir) is one row', async () => {
    const url = await postgres.newDatabase();
    const dir = stateDir();
    const a = replicaLog(store(url), dir);
    for (let i = 0; i < 5; i++) a.log.record(rec(i));
    expect(indices(await a.log.entriesShared())).toEqual([0, 1, 2, 3, 4]);
    const s = store(url);
    await s.exec('DELETE FROM audit_cursors');
    // A fresh mirror of the same files with no cursor sends every line again.
    const again = replicaLog(s, dir);
    expect(indices(await again.log.entriesShared())).toEqual([0, 1, 2, 3, 4]);
    expect(await rowCount(s)).toBe(5);
  });

  it('a flush after rotations neither loses nor duplicates records, and a restart resumes from its cursor', async () => {
    const url = await postgres.newDatabase();
    const dir = stateDir();
    const a = replicaLog(store(url), dir, 2_000);
    for (let i = 0; i < 10; i++) a.log.record(rec(i, 300));
    await a.log.flushShared();
    // Rotated while nothing was flushed: the rest of the old live file and the new one both go out once.
    for (let i = 10; i < 40; i++) a.log.record(rec(i, 300));
    expect(readdirSync(dir).filter((f) => /^audit\.\d+-\d+\.jsonl$/.test(f)).length).toBeGreaterThan(2);
    expect(indices(await a.log.entriesShared())).toEqual([...Array(40).keys()]);
    const s = store(url);
    expect(await rowCount(s)).toBe(40);
    // A restart (a new mirror, no memory) resumes from its cursors in the store: what was sent is not sent
    // again (rows removed here stay removed), what came after is.
    await s.exec('DELETE FROM audit_log');
    const restarted = replicaLog(s, dir, 2_000);
    for (let i = 40; i < 45; i++) restarted.log.record(rec(i, 300));
    expect(indices(await restarted.log.entriesShared())).toEqual([40, 41, 42, 43, 44]);
  });

  it('two replicas read the same log; a torn line waits, a foreign one is skipped', async () => {
    const url = await postgres.newDatabase();
    const dirA = stateDir();
    const a = replicaLog(store(url), dirA);
    const b = replicaLog(store(url), stateDir());
    a.log.record(rec(1));
    await a.log.flushShared();
    b.log.record(rec(2));
    // A record being written (no newline yet) is not sent half.
    appendFileSync(join(dirA, 'audit.jsonl'), '{"at":"2000-01-01T00:00:00.000Z","tool":"half');
    expect(indices(await b.log.entriesShared())).toEqual([1, 2]);
    a.log.record(rec(3));
    expect(indices(await a.log.entriesShared())).toEqual([1, 2, 3]);
    expect(b.log.entries().map((e) => (e.args as { i: number }).i)).toEqual([2]);
  });

  it('rejects (AuditUnreadable), never answers from the local file alone, when the store is out of reach; record() still writes', async () => {
    const dir = stateDir();
    const down = replicaLog(store('postgres://vast:secret-pw@127.0.0.1:1/vast'), dir);
    down.log.record(rec(7));
    expect(indices(down.log.entries())).toEqual([7]);
    const err = await down.log.entriesShared().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditUnreadable);
    expect((err as Error).message).toMatch(/shared audit log cannot be read/);
    expect((err as Error).message).not.toMatch(/secret-pw/);
    expect(await down.log.flushShared(2_000)).toBe(false);
  });

  it('a store of the current schema version (2) gains the audit tables as it is', async () => {
    const url = await postgres.newDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(PG_SCHEMA_V1);
    await client.query(PG_SCHEMA_V2_FROM_V1);
    expect((await client.query("SELECT value FROM meta WHERE key = 'schema_version'")).rows[0].value).toBe('2');
    expect((await client.query("SELECT to_regclass('audit_log') AS t")).rows[0].t).toBeNull();
    await client.end();
    const a = replicaLog(store(url), stateDir());
    a.log.record(rec(1));
    expect(indices(await a.log.entriesShared())).toEqual([1]);
  });
});
