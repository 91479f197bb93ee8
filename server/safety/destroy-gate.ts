import type { AuditLog } from '../state/audit-log.js';
import type { CopyLedger, VerifiedCopy } from '../state/ledger.js';
import type { Instance } from '../vast/schemas.js';

/**
 * When the instance last started: its creation, or a later start made through this server.
 * Copies made before it no longer prove anything about what is on the disk now.
 */
export function lastStartEpoch(inst: Instance, audit: AuditLog): number {
  let last = inst.start_date ?? 0;
  for (const e of audit.entries()) {
    const epoch = (e.detail as { epoch?: unknown } | undefined)?.epoch;
    if (e.instance_id === inst.id && e.action === 'start' && e.result === 'ok' && typeof epoch === 'number') last = Math.max(last, epoch);
  }
  return last;
}

export interface GateState {
  copies: VerifiedCopy[];
  ledgerDigest: string;
  since: number;
}

export function gateState(inst: Instance, ledger: CopyLedger, audit: AuditLog): GateState {
  const since = lastStartEpoch(inst, audit);
  return { copies: ledger.verifiedCopiesFor(inst.id, since), ledgerDigest: ledger.stateDigest(inst.id), since };
}

/** The iron law: approval alone is not enough; there must be a verified copy or an explicit discard. */
export function gateAllows(state: GateState, discardChosen: boolean): boolean {
  return state.copies.length > 0 || discardChosen;
}
