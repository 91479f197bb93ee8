import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readJsonLines } from '../state/jsonl-file.js';
import { assertVerified, copiesDigest, type Ledger, type LedgerScope, type VerifiedCopy } from '../state/ledger.js';
import type { PgJobStore } from './pg-store.js';

/** A record's identity: the same copy imported twice (or recorded by two replicas) is one row. */
function digestOf(r: Omit<VerifiedCopy, 'type'>): string {
  return createHash('sha256')
    .update(JSON.stringify([r.instance_id, r.remote_path, r.destination, r.size, r.sha256_remote, r.at, r.platform ?? null, r.account ?? null]))
    .digest('hex');
}

export interface ImportResult {
  imported: number;
  skipped: number;
  already: boolean;
}

/**
 * The verified-copy ledger in the shared store (what the destroy gate needs, for every replica).
 * Same refusal as the JSONL ledger: a record without equal checksums is never written.
 */
export class PgLedger implements Ledger {
  constructor(
    private readonly store: PgJobStore,
    private readonly scope?: LedgerScope,
    /** Awaited before every read and write (the one-time import of the local file, see pgLedgers). */
    private readonly ready: () => Promise<void> = async () => undefined,
  ) {}

  async recordVerifiedCopy(entry: Omit<VerifiedCopy, 'type'>): Promise<VerifiedCopy> {
    assertVerified(entry);
    await this.ready();
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
    await this.ready();
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

  async stateDigest(instanceId: number): Promise<string> {
    return copiesDigest(await this.verifiedCopiesFor(instanceId));
  }

  /**
   * Imports a JSONL ledger (state dir ledger.jsonl) once: idempotent (records keyed by content), the
   * import recorded in the store's meta table, the file left in place untouched. Records whose checksums
   * do not match are skipped, as they would have been refused at write time.
   */
  async importJsonl(path: string): Promise<ImportResult> {
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

/**
 * Ledgers (one per account scope) over one shared store that first import this server's local
 * ledger.jsonl, once, before their first read or write. Until the import has succeeded every call
 * fails (and the next one tries again): a ledger that could not be read never counts as empty.
 */
export function pgLedgers(store: PgJobStore, jsonlPath: string, onImport?: (r: ImportResult) => void): (scope: LedgerScope) => PgLedger {
  let imported: Promise<void> | null = null;
  const ready = (): Promise<void> => {
    imported ??= new PgLedger(store).importJsonl(jsonlPath).then(
      (r) => onImport?.(r),
      (e: unknown) => {
        imported = null;
        throw e;
      },
    );
    return imported;
  };
  return (scope) => new PgLedger(store, scope, ready);
}
