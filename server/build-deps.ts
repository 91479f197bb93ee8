import type { ServerConfig } from './config.js';
import type { ServerDeps } from './deps.js';
import type { Logger } from './logger.js';
import type { SecretRegistry } from './secrets.js';
import { VastClient } from './vast/client.js';
import { ConfirmationStore } from './safety/confirmations.js';
import { AuditLog } from './state/audit-log.js';
import { CopyLedger } from './state/ledger.js';
import { inspectWorkspace } from './ssh/inspect-disk.js';
import { loadProfiles } from './profiles/profile-config.js';
import { VastHttp } from './vast/http.js';

/** Wires the real adapters for a config. */
export function buildDeps(config: ServerConfig, logger: Logger, secrets: SecretRegistry, now?: () => number): ServerDeps {
  secrets.add(config.apiKey);
  secrets.add(config.s3.secretAccessKey);
  secrets.add(config.s3.sessionToken);
  const http = new VastHttp(
    { baseUrl: config.apiUrl, apiKey: config.apiKey, connectTimeoutMs: config.timeouts.connectMs, headersTimeoutMs: config.timeouts.headersMs, bodyTimeoutMs: config.timeouts.bodyMs, pacer: config.pacing ? undefined : null },
    logger.child({ component: 'vast-http' }),
    secrets,
  );
  const vast = new VastClient(http);
  const deps: ServerDeps = {
    vast,
    config,
    logger,
    secrets,
    now: now ?? (() => vast.serverNow()),
    monotonicMs: () => performance.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ledger: new CopyLedger(config.stateDir),
    audit: new AuditLog(config.stateDir, secrets),
    confirmations: new ConfirmationStore(config.confirmationTtlSeconds),
    session: { lastOfferSearch: null },
    profiles: loadProfiles(config.profilesPath).file,
  };
  deps.inspectDisk = (id) => inspectWorkspace(deps, id);
  return deps;
}
