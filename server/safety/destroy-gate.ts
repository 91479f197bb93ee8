import { VastMcpError } from '../errors.js';
import type { AuditEntry, AuditLog } from '../state/audit-log.js';
import type { Ledger, VerifiedCopy } from '../state/ledger.js';
import type { Instance } from '../vast/schemas.js';

export interface LastStart {
  /** Epoch seconds; copies before it prove nothing about the disk now. Infinity when it cannot be known. */
  epoch: number;
  /** Why this value: shown in the approval dialog. */
  note: string;
}

/**
 * When the instance last started, from what the platform reports, not only from the audit log's
 * records (every replica's: `entries` from entriesShared): a reboot, a start from the web console or an
 * outbid instance resumed by the platform are starts too. Running: now − uptime. Not running: only a
 * stop this server (or another replica) recorded, with no start after it, bounds the disk; otherwise it
 * cannot be known and no copy counts (fail closed).
 */
export function lastStart(inst: Instance, entries: AuditEntry[], now: number): LastStart & { stoppedAt: number | null } {
  let recorded = inst.start_date ?? 0;
  let stoppedAt: number | null = null;
  let previousStop = 0;
  for (const e of entries) {
    if (e.instance_id !== inst.id || e.result !== 'ok') continue;
    const epoch = (e.detail as { epoch?: unknown } | undefined)?.epoch;
    if (typeof epoch !== 'number') continue;
    // A start intent is written (and shared) before the platform is asked: it counts as a start even if the
    // start then failed or its own record never reached the other replicas.
    if (e.action === 'start' || e.action === 'start_intent') {
      recorded = Math.max(recorded, epoch);
      stoppedAt = null;
    } else if (e.action === 'stop') {
      if (stoppedAt !== null) previousStop = Math.max(previousStop, stoppedAt);
      if (epoch >= recorded) stoppedAt = epoch;
    }
  }
  if (inst.actual_status === 'running') {
    if (typeof inst.uptime_mins !== 'number' || !Number.isFinite(inst.uptime_mins)) {
      return { epoch: Infinity, note: 'the platform does not report how long it has been running, so its last start is unknown', stoppedAt: null };
    }
    const platform = now - inst.uptime_mins * 60;
    return {
      epoch: Math.max(recorded, platform),
      note: `last started ${new Date(Math.max(recorded, platform) * 1000).toISOString()} (platform uptime ${Math.round(inst.uptime_mins)} min)`,
      stoppedAt: null,
    };
  }
  // Only the last run counts: a copy from before an earlier stop may predate a start whose record was lost.
  if (stoppedAt !== null)
    return {
      epoch: Math.max(recorded, previousStop),
      note: `stopped by this server at ${new Date(stoppedAt * 1000).toISOString()}; copies made while it ran count`,
      stoppedAt,
    };
  return {
    epoch: Infinity,
    note: `it is ${inst.actual_status ?? 'not running'} and was not stopped by this server, so when it last ran (and wrote to its disk) is unknown`,
    stoppedAt: null,
  };
}

/** Kept for callers of the old signature: the epoch of the last start (Infinity when unknown). */
export function lastStartEpoch(inst: Instance, entries: AuditEntry[], now = Date.now() / 1000): number {
  return lastStart(inst, entries, now).epoch;
}

export interface GateState {
  copies: VerifiedCopy[];
  ledgerDigest: string;
  since: number;
  /** Why `since` is what it is (or why no copy counts). */
  sinceNote: string;
}

/**
 * The ledger, or the audit log that dates its copies (stops and starts), could not be read: whether a verified
 * copy exists is unknown, so destroy stays locked (even with discard).
 */
export class LedgerUnreadable extends VastMcpError {
  constructor(
    instanceId: number,
    readonly reason: unknown,
    readonly what: 'ledger' | 'audit' = 'ledger',
  ) {
    super(
      what === 'ledger'
        ? `Refused: the verified-copy ledger cannot be read right now (the shared store or the state directory is out of reach), so whether instance ${instanceId} ` +
            'has a verified copy is unknown. Nothing was destroyed, and destroy stays locked until the ledger can be read again; ask the operator to check ' +
            'the store (VAST_MCP_STORE_URL) or the state directory, then call destroy again.'
        : `Refused: the shared audit log cannot be read right now (the shared store or the state directory is out of reach), so when instance ${instanceId} ` +
            'was last stopped and started, and so whether any copy of it still counts, is unknown. Nothing was destroyed, and destroy stays locked until ' +
            'it can be read again; ask the operator to check the store (VAST_MCP_STORE_URL) or the state directory, then call destroy again.',
      what === 'ledger' ? 'ledger_unavailable' : 'audit_unavailable',
    );
    this.name = 'LedgerUnreadable';
  }
}

/**
 * What the gate sees for an instance. Rejects with LedgerUnreadable when the ledger, or the audit log that
 * dates copies, cannot be read (never "no copies", never dated by this replica's records alone).
 */
export async function gateState(inst: Instance, ledger: Ledger, audit: AuditLog, now = Date.now() / 1000): Promise<GateState> {
  const [entries, digest] = await Promise.allSettled([audit.entriesShared(), ledger.stateDigest(inst.id)]);
  if (digest.status === 'rejected') throw new LedgerUnreadable(inst.id, digest.reason);
  if (entries.status === 'rejected') throw new LedgerUnreadable(inst.id, entries.reason, 'audit');
  const start = lastStart(inst, entries.value, now);
  const ledgerDigest = digest.value;
  let found: VerifiedCopy[];
  try {
    found = Number.isFinite(start.epoch) ? await ledger.verifiedCopiesFor(inst.id, start.epoch) : [];
  } catch (e) {
    throw new LedgerUnreadable(inst.id, e);
  }
  const copies = found.filter((c) => start.stoppedAt === null || c.at <= start.stoppedAt);
  return { copies, ledgerDigest, since: start.epoch, sinceNote: start.note };
}

/** The iron law: approval alone is not enough; there must be a verified copy or an explicit discard. */
export function gateAllows(state: GateState, discardChosen: boolean): boolean {
  return state.copies.length > 0 || discardChosen;
}

/** An instance path as an absolute, normalised path (relative paths are under /workspace, as the copy tool resolves them). */
function absoluteRemote(path: string): string {
  const abs = path.startsWith('/') ? path : `/workspace/${path}`;
  const parts: string[] = [];
  for (const seg of abs.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

/**
 * Files on the instance that no verified copy covers, largest first. A copy covers its own path and,
 * when it is a directory copy (recorded once, only after every file in it verified), every path below it.
 */
export function uncoveredFiles(files: { path: string; bytes: number }[], copies: VerifiedCopy[]): { path: string; bytes: number }[] {
  const covered = copies.map((c) => absoluteRemote(c.remote_path));
  const isCovered = (file: string) => {
    const f = absoluteRemote(file);
    return covered.some((c) => f === c || c === '/' || f.startsWith(`${c}/`));
  };
  return files.filter((f) => !isCovered(f.path)).sort((a, b) => b.bytes - a.bytes);
}
