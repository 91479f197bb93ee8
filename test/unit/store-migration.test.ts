import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_SCHEMA_V1 } from '../../server/store/pg-schema.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { SCHEMA_V1 } from '../../server/store/sqlite-schema.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// Schema 2 keys an artifact by its destination too (outputs verified locally AND in S3). A store written by
// schema 1 keeps its artifacts and takes a second destination after the upgrade.
const SHA = 'b'.repeat(64);
const ROW = {
  job_id: 'j1',
  remote_path: '/workspace/out/model.bin',
  destination: '/root/out/model.bin',
  size: 7,
  sha256: SHA,
  attempt: 1,
  verified_at: 5,
};

let postgres: TestPostgres;
beforeAll(async () => {
  postgres = await startTestPostgres();
}, 180_000);
afterAll(async () => {
  await postgres?.stop();
});

async function afterUpgrade(store: SqliteJobStore | PgJobStore): Promise<void> {
  expect(await store.artifacts('j1')).toEqual([ROW]);
  const f = (await store.acquireLease('job:j1', 'me', 30, 0))!;
  await store.recordArtifact(f, { ...ROW, destination: 's3://bucket/run/model.bin', verified_at: 6 });
  expect((await store.artifacts('j1')).map((a) => a.destination)).toEqual(['/root/out/model.bin', 's3://bucket/run/model.bin']);
}

describe('job store schema 1 → 2', () => {
  it('SQLite: the artifacts table is rebuilt with its rows', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'store-v1-')), 'jobs.sqlite');
    const Database = createRequire(import.meta.url)('better-sqlite3');
    const old = new Database(path);
    old.exec(SCHEMA_V1);
    old.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', '1')`).run();
    old.prepare(`INSERT INTO jobs (id, name, state, spec, created_at, updated_at) VALUES ('j1', 'x', 'SUBMITTED', '{}', 0, 0)`).run();
    old.prepare('INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?)').run(...Object.values(ROW));
    old.close();
    const store = new SqliteJobStore(path);
    await afterUpgrade(store);
    await store.close();
    // Opening it again changes nothing.
    const again = new SqliteJobStore(path);
    expect(await again.artifacts('j1')).toHaveLength(2);
    await again.close();
  });

  it('PostgreSQL: the primary key gains the destination, rows kept', async () => {
    const url = await postgres.newDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(PG_SCHEMA_V1);
    await client.query(`INSERT INTO jobs (id, name, state, spec, created_at, updated_at) VALUES ('j1', 'x', 'SUBMITTED', '{}', 0, 0)`);
    await client.query('INSERT INTO artifacts VALUES ($1, $2, $3, $4, $5, $6, $7)', Object.values(ROW));
    await client.end();
    const store = new PgJobStore(url);
    await afterUpgrade(store);
    await store.close();
    const again = new PgJobStore(url);
    expect(await again.artifacts('j1')).toHaveLength(2);
    await again.close();
  });
});
