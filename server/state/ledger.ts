import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { appendJsonLine, readJsonLines } from './jsonl-file.js';

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
}

/**
 * The durable record `destroy` checks: verified copies per instance. Append-only JSONL, fsync'd;
 * a record that does not show equal checksums is refused at write time.
 */
export class CopyLedger {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'ledger.jsonl');
  }

  recordVerifiedCopy(entry: Omit<VerifiedCopy, 'type'>): VerifiedCopy {
    if (!/^[0-9a-f]{64}$/.test(entry.sha256_remote) || entry.sha256_remote !== entry.sha256_local) {
      throw new Error('refusing to record a copy whose checksums do not match');
    }
    const record: VerifiedCopy = { type: 'verified_copy', ...entry };
    appendJsonLine(this.path, record);
    return record;
  }

  /** Verified copies of an instance made at or after `since` (its last start). */
  verifiedCopiesFor(instanceId: number, since = 0): VerifiedCopy[] {
    return readJsonLines<VerifiedCopy>(this.path).filter((r) => r.type === 'verified_copy' && r.instance_id === instanceId && r.at >= since);
  }

  /** A digest of an instance's ledger entries: approvals are bound to it, so a new copy invalidates them. */
  stateDigest(instanceId: number): string {
    return createHash('sha256').update(JSON.stringify(this.verifiedCopiesFor(instanceId))).digest('hex').slice(0, 16);
  }
}
