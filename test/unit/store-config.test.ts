import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { SecretRegistry } from '../../server/secrets.js';
import { openJobStore, storeKind } from '../../server/store/open-store.js';
import { PgJobStore, redactStoreUrl } from '../../server/store/pg-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';

describe('choosing the store', () => {
  it('is SQLite in the state directory by default and PostgreSQL with VAST_MCP_STORE_URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-config-'));
    const plain = loadConfig({ stateDir: dir }, {}).config;
    expect(storeKind(plain)).toBe('sqlite');
    const sqlite = openJobStore(plain, new SecretRegistry());
    expect(sqlite).toBeInstanceOf(SqliteJobStore);
    await sqlite.close();
    const url = 'postgres://team:s3cr%40t-pass@db.internal:5432/vast';
    const team = loadConfig({ stateDir: dir }, { VAST_MCP_STORE_URL: ` ${url} ` }).config;
    expect(team.storeUrl).toBe(url);
    const secrets = new SecretRegistry();
    const pg = openJobStore(team, secrets);
    expect(pg).toBeInstanceOf(PgJobStore);
    // The password (decoded) is a secret from then on: any log line or error quoting it is scrubbed.
    expect(secrets.scrub('could not connect with s3cr@t-pass')).not.toContain('s3cr@t-pass');
    expect(redactStoreUrl(url)).toBe('postgres://team:***@db.internal:5432/vast');
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a store URL that is not postgres:// without repeating it', () => {
    const bad = 'mysql://root:hunter2@db/x';
    expect(() => loadConfig({}, { VAST_MCP_STORE_URL: bad })).toThrow(/VAST_MCP_STORE_URL must be a postgres/);
    try {
      loadConfig({}, { VAST_MCP_STORE_URL: bad });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
