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
 * The durable record `destroy` checks: verified copies per instance. Append-only JSONL, fsync'd;
 * a record that does not show equal checksums is refused at write time.
 */
export class CopyLedger {
  readonly path: string;

  constructor(
    stateDir: string,
    private readonly onRepair?: OnRepair,
    /** When set, records carry it and only records of the same platform and account count (fail closed). */
    private readonly scope?: LedgerScope,
  ) {
    this.path = join(stateDir, 'ledger.jsonl');
  }

  recordVerifiedCopy(entry: Omit<VerifiedCopy, 'type'>): VerifiedCopy {
    if (!/^[0-9a-f]{64}$/.test(entry.sha256_remote) || entry.sha256_remote !== entry.sha256_local) {
      throw new Error('refusing to record a copy whose checksums do not match');
    }
    const record: VerifiedCopy = { type: 'verified_copy', ...entry, ...(this.scope ?? {}) };
    appendJsonLine(this.path, record, this.onRepair);
    return record;
  }

  /** Verified copies of an instance made at or after `since` (its last start). */
  verifiedCopiesFor(instanceId: number, since = 0): VerifiedCopy[] {
    const scope = this.scope;
    const ours = (r: VerifiedCopy) => !scope || (r.platform === scope.platform && r.account === scope.account);
    return readJsonLines<VerifiedCopy>(this.path, this.onRepair).filter(
      (r) => r.type === 'verified_copy' && r.instance_id === instanceId && r.at >= since && ours(r),
    );
  }

  /** A digest of an instance's ledger entries: approvals are bound to it, so a new copy invalidates them. */
  stateDigest(instanceId: number): string {
    return createHash('sha256')
      .update(JSON.stringify(this.verifiedCopiesFor(instanceId)))
      .digest('hex')
      .slice(0, 16);
  }
}
