import type { VastClient } from './vast/client.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { SecretRegistry } from './secrets.js';
import type { ConfirmationStore } from './safety/confirmations.js';
import type { AuditLog } from './state/audit-log.js';
import type { Ledger, LedgerScope } from './state/ledger.js';
import type { ProfilesFile } from './profiles/profile-config.js';
import type { Reservations } from './profiles/reservations.js';
import type { DiskSummary } from './ssh/inspect-disk.js';
import type { ApprovalPages } from './safety/approval-page.js';
import type { JobsRuntime } from './jobs/runtime.js';
import type { Caller } from './identity/caller.js';

/** What this server process remembers between calls of one session. */
export interface SessionState {
  /** Type of the last offers search, to point out an interruptible/on-demand mismatch at create. */
  lastOfferSearch: { interruptible: boolean } | null;
}

/** Everything a tool needs, passed in (no singletons): tests swap any of it. */
export interface ServerDeps {
  vast: VastClient;
  config: ServerConfig;
  logger: Logger;
  secrets: SecretRegistry;
  /** Current time in epoch seconds (the simulator's clock in sandbox mode). */
  now(): number;
  /** Real time in ms and a sleep, for poll loops and their deadlines (tests may speed them up). */
  monotonicMs(): number;
  sleep(ms: number): Promise<void>;
  /** The verified-copy ledger of the server's own account (shared through PostgreSQL when a store URL is set). */
  ledger: Ledger;
  /** The ledger of another account (server/identity/accounts.ts), kept where deps.ledger is. */
  ledgerFor?: (scope: LedgerScope) => Ledger;
  audit: AuditLog;
  confirmations: ConfirmationStore;
  session: SessionState;
  /**
   * Budget reservations (check-and-reserve is atomic): in the shared store when a store URL is set, so
   * replicas never approve against the same remaining budget. Absent: the state directory's file.
   */
  reservations?: Reservations;
  /** GPU profiles and budgets (validated at startup). */
  profiles: ProfilesFile;
  /** Lists the files of /workspace over SSH when the instance is reachable (absent: not inspected). */
  inspectDisk?: (instanceId: number) => Promise<DiskSummary | null>;
  /** Loopback approval pages for URL-mode elicitation (created on first use). */
  approvalPages?: ApprovalPages;
  /** The jobs store and supervisor starter, opened on first use by the job tools (server/jobs/runtime.ts). */
  jobs?: JobsRuntime;
  /**
   * The Vast client for a caller who uses the server's own account (server/identity/accounts.ts maps
   * teams to configured accounts first). Absent: deps.vast, so nothing changes when unconfigured.
   */
  vastFor?: (caller: Caller) => VastClient;
}
