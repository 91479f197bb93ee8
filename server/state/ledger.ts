import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { appendJsonLine, readJsonLines, type OnRepair } from './jsonl-file.js';

/** One file copied off an instance and verified: sha256 computed on both ends and equal. */
export interface VerifiedCopy {
  type: 'verified_copy';
  instance_id: number;
  remote_path: string;
  destination: string;
  size: number;
  sha256_remote: string;
  sha256_local: string;
  /** Epoch seconds. */
  at: number;
  /** The platform API and account the instance belongs to (absent in records of older versions). */
  platform?: string;
  account?: string;
}

/** Which platform and account a ledger speaks for: a simulator's reused ids never match a real instance. */
export interface LedgerScope {
  platform: string;
  /** A stable, non-secret account id (e.g. a digest of the API key). */
  account: string;
}

/** An account id from an API key that reveals nothing of the key. */
export function accountDigest(apiKey: string | null): string {
  return apiKey ? createHash('sha256').update(`vast-mcp-account:${apiKey}`).digest('hex').slice(0, 16) : 'no-key';
}

/**
 * The verified-copy ledger `destroy` checks, wherever it is kept: a JSONL file in the state directory
 * (one server) or the shared PostgreSQL store (replicas, server/store/pg-ledger.ts). Every method may
 * fail (a store out of reach): callers fail closed, a ledger that cannot be read unlocks nothing.
 */
export interface Ledger {
  /** Refuses (rejects) a record that does not show equal checksums. */
  recordVerifiedCopy(entry: Omit<VerifiedCopy, 'type'>): Promise<VerifiedCopy>;
  /** Verified copies of an instance made at or after `since` (its last start), of this ledger's scope only. */
  verifiedCopiesFor(instanceId: number, since?: number): Promise<VerifiedCopy[]>;
  /** A digest of an instance's ledger entries: approvals are bound to it, so a new copy invalidates them. */
  stateDigest(instanceId: number): Promise<string>;
}

/** Refuses, before anything is written, a record whose checksums do not show a verified copy. */
export function assertVerified(entry: Omit<VerifiedCopy, 'type'>): void {
  if (!/^[0-9a-f]{64}$/.test(entry.sha256_remote) || entry.sha256_remote !== entry.sha256_local) {
    throw new Error('refusing to record a copy whose checksums do not match');
  }
}

/**
 * The digest of an instance's copies, the same for every kind of ledger: fixed fields in a fixed order,
 * sorted, so the file and the shared store bind an approval to the same value for the same records.
 */
export function copiesDigest(copies: VerifiedCopy[]): string {
  const rows = copies
    .map((c) =>
      JSON.stringify([
        c.instance_id,
        c.remote_path,
        c.destination,
        c.size,
        c.sha256_remote,
        c.sha256_local,
        c.at,
        c.platform ?? null,
        c.account ?? null,
      ]),
    )
    .sort();
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16);
}

/**
 * The ledger of one server: append-only JSONL in the state directory, fsync'd; a record that does not
 * show equal checksums is refused at write time.
 */
export class CopyLedger implements Ledger {
  readonly path: string;

  constructor(
    stateDir: string,
    private readonly onRepair?: OnRepair,
    /** When set, records carry it and only records of the same platform and account count (fail closed). */
    private readonly scope?: LedgerScope,
  ) {
    this.path = join(stateDir, 'ledger.jsonl');
  }

  async recordVerifiedCopy(entry: Omit<VerifiedCopy, 'type'>): Promise<VerifiedCopy> {
    assertVerified(entry);
    const record: VerifiedCopy = { type: 'verified_copy', ...entry, ...(this.scope ?? {}) };
    appendJsonLine(this.path, record, this.onRepair);
    return record;
  }

  async verifiedCopiesFor(instanceId: number, since = 0): Promise<VerifiedCopy[]> {
    const scope = this.scope;
    const ours = (r: VerifiedCopy) => !scope || (r.platform === scope.platform && r.account === scope.account);
    return readJsonLines<VerifiedCopy>(this.path, this.onRepair).filter(
      (r) => r.type === 'verified_copy' && r.instance_id === instanceId && r.at >= since && ours(r),
    );
  }

  async stateDigest(instanceId: number): Promise<string> {
    return copiesDigest(await this.verifiedCopiesFor(instanceId));
  }
}
