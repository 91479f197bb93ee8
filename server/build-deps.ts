import { join } from 'node:path';
import type { ServerConfig } from './config.js';
import type { ServerDeps } from './deps.js';
import type { Logger } from './logger.js';
import type { SecretRegistry } from './secrets.js';
import { VastClient } from './vast/client.js';
import { ConfirmationStore } from './safety/confirmations.js';
import { AuditLog } from './state/audit-log.js';
import type { OnRepair } from './state/jsonl-file.js';
import { accountDigest, CopyLedger, type Ledger, type LedgerScope } from './state/ledger.js';
import { secureStateDir } from './state/state-dir.js';
import { inspectWorkspace } from './ssh/inspect-disk.js';
import { loadProfiles } from './profiles/profile-config.js';
import { BudgetReservations } from './profiles/reservations.js';
import { VastHttp } from './vast/http.js';
import { PgAuditMirror } from './store/pg-audit.js';
import { PgConfirmations } from './store/pg-confirmations.js';
import { pgLedgers } from './store/pg-ledger.js';
import { PgReservations } from './store/pg-reservations.js';
import { PgJobStore, storeUrlPassword } from './store/pg-store.js';

/** Wires the real adapters for a config. */
export function buildDeps(config: ServerConfig, logger: Logger, secrets: SecretRegistry, now?: () => number): ServerDeps {
  secrets.add(config.apiKey);
  secrets.add(config.s3.secretAccessKey);
  secrets.add(config.s3.sessionToken);
  if (config.storeUrl) secrets.add(storeUrlPassword(config.storeUrl));
  const http = new VastHttp(
    {
      baseUrl: config.apiUrl,
      apiKey: config.apiKey,
      connectTimeoutMs: config.timeouts.connectMs,
      headersTimeoutMs: config.timeouts.headersMs,
      bodyTimeoutMs: config.timeouts.bodyMs,
      pacer: config.pacing ? undefined : null,
    },
    logger.child({ component: 'vast-http' }),
    secrets,
  );
  const vast = new VastClient(http);
  // Repairs of state files (torn tail, loose modes) are logged, never silent.
  const onRepair: OnRepair = (n) => logger.warn({ file: n.path, repair: n.kind }, `state file repaired: ${n.detail}`);
  try {
    secureStateDir(config.stateDir, onRepair);
  } catch (e) {
    // An unwritable state dir is reported where it matters (before a mutation), not at start-up.
    logger.warn({ err: e, stateDir: config.stateDir }, 'could not check the state directory modes');
  }
  // With a shared store (replicas), confirmations and the verified-copy ledger live there: a token issued by one
  // server is honoured, and used up, on any of them; a copy verified through one unlocks destroy on all. The audit
  // log is mirrored there (the local file stays the outbox): who rented what, stops and starts, spend, on every replica.
  // Budget reservations too: two replicas never approve rentals against the same remaining budget.
  const shared = config.storeUrl ? new PgJobStore(config.storeUrl, { max: 3 }) : null;
  const ledgerFor: (scope: LedgerScope) => Ledger = shared
    ? pgLedgers(shared, join(config.stateDir, 'ledger.jsonl'), (r) => {
        if (r.imported || r.skipped) logger.info({ ...r }, 'local ledger.jsonl imported into the shared store');
      })
    : (scope) => new CopyLedger(config.stateDir, onRepair, scope);
  const deps: ServerDeps = {
    vast,
    config,
    logger,
    secrets,
    now: now ?? (() => vast.serverNow()),
    monotonicMs: () => performance.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ledger: ledgerFor({ platform: config.apiUrl, account: accountDigest(config.apiKey) }),
    ledgerFor,
    audit: new AuditLog(
      config.stateDir,
      secrets,
      onRepair,
      undefined,
      shared ? new PgAuditMirror(shared, config.stateDir, logger.child({ component: 'audit-mirror' })) : undefined,
    ),
    confirmations: shared
      ? new ConfirmationStore(config.confirmationTtlSeconds, undefined, new PgConfirmations(shared))
      : new ConfirmationStore(config.confirmationTtlSeconds),
    reservations: shared ? new PgReservations(shared) : new BudgetReservations(config.stateDir),
    session: { lastOfferSearch: null },
    profiles: loadProfiles(config.profilesPath).file,
  };
  deps.inspectDisk = (id) => inspectWorkspace(deps, id);
  return deps;
}
