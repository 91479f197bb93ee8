import type { ServerConfig } from '../config.js';
import type { SecretRegistry } from '../secrets.js';
import type { JobStore } from './job-store.js';
import { PgJobStore, storeUrlPassword } from './pg-store.js';
import { SqliteJobStore } from './sqlite-store.js';

/**
 * The store chosen by the config: PostgreSQL when VAST_MCP_STORE_URL is set (a team sharing an account
 * across machines), else SQLite in the state directory. The URL's password becomes a secret first, so
 * no log line or error carries it.
 */
export function openJobStore(config: Pick<ServerConfig, 'stateDir' | 'storeUrl'>, secrets: SecretRegistry): JobStore {
  if (config.storeUrl) {
    secrets.add(storeUrlPassword(config.storeUrl));
    return new PgJobStore(config.storeUrl);
  }
  return SqliteJobStore.inStateDir(config.stateDir);
}

export function storeKind(config: Pick<ServerConfig, 'storeUrl'>): 'postgres' | 'sqlite' {
  return config.storeUrl ? 'postgres' : 'sqlite';
}
