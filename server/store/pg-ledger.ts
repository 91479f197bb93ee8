import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readJsonLines } from '../state/jsonl-file.js';
import type { LedgerScope, VerifiedCopy } from '../state/ledger.js';
import type { PgJobStore } from './pg-store.js';

/** A record's identity: the same copy imported twice (or recorded by two replicas) is one row. */
function digestOf(r: Omit<VerifiedCopy, 'type'>): string {
  return createHash('sha256')
    .update(JSON.stringify([r.instance_id, r.remote_path, r.destination, r.size, r.sha256_remote, r.at, r.platform ?? null, r.account ?? null]))
    .digest('hex');
}

/**
 * The verified-copy ledger in the shared store (what the destroy gate needs, for every replica).
 * Same refusal as the JSONL ledger: a record without equal checksums is never written.
 */
export class PgLedger {
  constructor(
    private readonly store: PgJobStore,
    private readonly scope?: LedgerScope,
  ) {}

  async recordVerifiedCopy(entry: Omit<VerifiedCopy, 'type'>): Promise<VerifiedCopy> {
    if (!/^[0-9a-f]{64}$/.test(entry.sha256_remote) || entry.sha256_remote !== entry.sha256_local) {
      throw new Error('refusing to record a copy whose checksums do not match');
    }
    const record: VerifiedCopy = { type: 'verified_copy', ...entry, ...(this.scope ?? {}) };
    await this.insert(record);
    return record;
  }

  private async insert(r: VerifiedCopy): Promise<boolean> {
    const rows = await this.store.exec(
      `INSERT INTO verified_copies (digest, instance_id, remote_path, destination, size, sha256, at, platform, account)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (digest) DO NOTHING RETURNING digest`,
      [digestOf(r), r.instance_id, r.remote_path, r.destination, r.size, r.sha256_remote, r.at, r.platform ?? null, r.account ?? null],
    );
    return rows.length > 0;
  }

  /** Verified copies of an instance made at or after `since`, of this platform and account only (fail closed). */
  async verifiedCopiesFor(instanceId: number, since = 0): Promise<VerifiedCopy[]> {
    const rows = await this.store.exec('SELECT * FROM verified_copies WHERE instance_id = $1 AND at >= $2 ORDER BY at, digest', [instanceId, since]);
    const scope = this.scope;
    return rows
      .map(
        (r): VerifiedCopy => ({
          type: 'verified_copy',
          instance_id: r.instance_id as number,
          remote_path: r.remote_path as string,
          destination: r.destination as string,
          size: r.size as number,
          sha256_remote: r.sha256 as string,
          sha256_local: r.sha256 as string,
          at: r.at as number,
          ...(r.platform === null ? {} : { platform: r.platform as string }),
          ...(r.account === null ? {} : { account: r.account as string }),
        }),
      )
      .filter((r) => !scope || (r.platform === scope.platform && r.account === scope.account));
  }

  /**
   * Imports a JSONL ledger (state dir ledger.jsonl) once: idempotent (records keyed by content), the
   * import recorded in the store's meta table, the file left in place untouched. Records whose checksums
   * do not match are skipped, as they would have been refused at write time.
   */
  async importJsonl(path: string): Promise<{ imported: number; skipped: number; already: boolean }> {
    if (!existsSync(path)) return { imported: 0, skipped: 0, already: false };
    const records = readJsonLines<VerifiedCopy>(path);
    const key = `ledger_import:${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;
    const [prev] = await this.store.exec('SELECT value FROM meta WHERE key = $1', [key]);
    let imported = 0;
    let skipped = 0;
    for (const r of records) {
      const ok = r.type === 'verified_copy' && /^[0-9a-f]{64}$/.test(r.sha256_remote) && r.sha256_remote === r.sha256_local;
      if (!ok) skipped++;
      else if (await this.insert(r)) imported++;
    }
    await this.store.exec('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [
      key,
      JSON.stringify({ path, records: records.length, imported, skipped, at: Date.now() / 1000 }),
    ]);
    return { imported, skipped, already: prev !== undefined };
  }
}
