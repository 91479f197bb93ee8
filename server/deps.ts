import type { VastClient } from './vast/client.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { SecretRegistry } from './secrets.js';

/** Everything a tool needs, passed in (no singletons): tests swap any of it. */
export interface ServerDeps {
  vast: VastClient;
  config: ServerConfig;
  logger: Logger;
  secrets: SecretRegistry;
  /** Current time in epoch seconds (the simulator's clock in sandbox mode). */
  now(): number;
}
