import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyLedger } from '../../server/state/ledger.js';
import { PgLedger } from '../../server/store/pg-ledger.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

let pg: TestPostgres;
const opened: PgJobStore[] = [];
const dirs: string[] = [];
beforeAll(async () => {
  pg = await startTestPostgres();
  // initdb and a first start are slow on a loaded machine.
}, 180_000);
afterAll(async () => {
  for (const s of opened) await s.close();
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SHA = 'b'.repeat(64);
const scope = { platform: 'http://sim', account: 'acct1' };
const copy = (instance_id: number, at: number, remote_path = '/workspace/out') => ({
  instance_id,
  remote_path,
  destination: `/copies/${instance_id}${remote_path}`,
  size: 10,
  sha256_remote: SHA,
  sha256_local: SHA,
  at,
});

async function open(url?: string): Promise<PgJobStore> {
  const s = new PgJobStore(url ?? (await pg.newDatabase()));
  opened.push(s);
  return s;
}

describe('verified-copy ledger in the shared store', () => {
  it('refuses unverified records and answers per instance, since its last start, for this account only', async () => {
    const url = await pg.newDatabase();
    const store = await open(url);
    const ledger = new PgLedger(store, scope);
    await expect(ledger.recordVerifiedCopy({ ...copy(1, 10), sha256_local: 'c'.repeat(64) })).rejects.toThrow(/checksums/);
    await ledger.recordVerifiedCopy(copy(1, 10));
    await ledger.recordVerifiedCopy(copy(1, 30, '/workspace/b'));
    await ledger.recordVerifiedCopy(copy(2, 30));
    await new PgLedger(store, { platform: 'http://sim', account: 'other' }).recordVerifiedCopy(copy(1, 40, '/workspace/c'));
    // Another replica (its own pool) sees the same records.
    const replica = new PgLedger(await open(url), scope);
    expect((await replica.verifiedCopiesFor(1)).map((c) => c.remote_path)).toEqual(['/workspace/out', '/workspace/b']);
    expect((await ledger.verifiedCopiesFor(1, 20)).map((c) => [c.remote_path, c.at, c.account])).toEqual([['/workspace/b', 30, 'acct1']]);
    expect(await ledger.verifiedCopiesFor(3)).toEqual([]);
  });

  it('imports an existing JSONL ledger once (idempotent, recorded), keeping the file as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-import-'));
    dirs.push(dir);
    const jsonl = new CopyLedger(dir, undefined, scope);
    await jsonl.recordVerifiedCopy(copy(5, 100));
    await jsonl.recordVerifiedCopy(copy(5, 200, '/workspace/ckpt'));
    await jsonl.recordVerifiedCopy(copy(6, 150));
    const before = readFileSync(jsonl.path, 'utf8');
    const store = await open();
    const ledger = new PgLedger(store, scope);
    expect(await ledger.importJsonl(jsonl.path)).toEqual({ imported: 3, skipped: 0, already: false });
    expect(await ledger.importJsonl(jsonl.path)).toEqual({ imported: 0, skipped: 0, already: true });
    expect(readFileSync(jsonl.path, 'utf8')).toBe(before);
    expect((await ledger.verifiedCopiesFor(5)).map((c) => [c.remote_path, c.at])).toEqual([
      ['/workspace/out', 100],
      ['/workspace/ckpt', 200],
    ]);
    expect(await ledger.verifiedCopiesFor(5, 0)).toEqual(await jsonl.verifiedCopiesFor(5, 0));
    const [meta] = await store.exec(`SELECT value FROM meta WHERE key LIKE 'ledger_import:%'`);
    expect(JSON.parse(meta!.value as string)).toMatchObject({ path: jsonl.path, records: 3, imported: 0 });
    expect(await ledger.importJsonl(join(dir, 'missing.jsonl'))).toEqual({ imported: 0, skipped: 0, already: false });
  });
});
