import { closeSync, fsyncSync, mkdirSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { AuditEntry, AuditLog } from '../state/audit-log.js';

/** Below this much free space the ledger and audit log may not take one more record: refuse up front. */
export const MIN_FREE_STATE_BYTES = 1024 * 1024;

/**
 * Fails closed before anything that changes the platform: the ledger and audit log must be writable
 * (directory present or creatable, a probe written and fsync'd, some free space), or nothing is done.
 */
export function assertStateWritable(stateDir: string, action: string): void {
  const probe = join(stateDir, `.write-probe-${process.pid}`);
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const fd = openSync(probe, 'w', 0o600);
    try {
      writeSync(fd, 'probe\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    unlinkSync(probe);
    const fs = statfsSync(stateDir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < MIN_FREE_STATE_BYTES) throw Object.assign(new Error(`only ${free} bytes free`), { code: 'ENOSPC' });
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new VastMcpError(
      `Refused before ${action}: the state directory ${stateDir} cannot be written (${why}), so the ledger and audit log could not record what happens. ` +
        'Nothing was done on the platform. Fix the directory (permissions, free space, or set VAST_MCP_STATE_DIR) and call again.',
      'state_unwritable',
    );
  }
}

/**
 * Records the outcome of a mutation that already happened on the platform. Recording must never hide
 * it: when the write fails, the returned warning says exactly what happened there, for the result.
 */
export function recordOutcome(audit: AuditLog, entry: Omit<AuditEntry, 'at' | 'pid'>, onPlatform: string): string | null {
  try {
    audit.record(entry);
    return null;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return `WARNING: the audit log could not record this (${why}). On the platform: ${onPlatform}`;
  }
}
