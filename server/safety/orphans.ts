import type { ServerDeps } from '../deps.js';
import { accountVast } from '../identity/caller-deps.js';
import { visibleInstances } from '../identity/instance-access.js';
import type { AuditEntry } from '../state/audit-log.js';
import type { Instance } from '../vast/schemas.js';
import { recordOutcome } from './mutation-record.js';

/** Beyond twice the commit window, how long a create may still be reconciling before its markers count as given up (ms). */
const IN_FLIGHT_MARGIN_MS = 120_000;

/** The create's own label from an attempt's marker (attempt n > 1 carries `-rN`, see attemptLabel). */
function baseLabel(marker: string): string {
  return marker.replace(/-r\d+$/, '');
}

export interface LateRental {
  instance_id: number;
  label: string;
  stopped: boolean;
}

/**
 * Rentals the platform committed after this server gave up on them: a live instance carrying the marker
 * of a create attempt that never became a recorded rental. Each is stopped once (its disk keeps billing)
 * and reported on every call until the user destroys or keeps it.
 */
export async function checkLateRentals(deps: ServerDeps, instances: Instance[]): Promise<{ late: LateRental[]; note: string | null }> {
  let entries: AuditEntry[];
  try {
    // Every replica's attempts and rentals: a create through one replica that the platform committed late is
    // found, and its duplicate stopped, by whichever replica lists it first.
    entries = await deps.audit.entriesShared();
  } catch (e) {
    deps.logger.warn({ err: (e as Error).message }, 'late rental scan skipped: the audit log cannot be read');
    return {
      late: [],
      note: 'Duplicates a late create may have rented were NOT checked: the shared audit log cannot be read right now. Call status again once the store is back.',
    };
  }
  // Attempt markers (with where and when they were recorded), and the last outcome (rent ok or error) of each
  // create by its base label. A create still in flight (on this replica or another) owns its markers: its own
  // reconciliation finds and stops its duplicates. Only a marker recorded before its create's last outcome, or one
  // whose create has had far longer than its reconciliation takes (a server that died mid-create), is given up.
  // Order, not time, decides "before": one create's records all come from one server, in order.
  const attempted = new Map<string, { index: number; at: number }>();
  const concludedAt = new Map<string, number>();
  const recorded = new Set<string>();
  const recordedIds = new Set<number>();
  const handled = new Set<number>();
  entries.forEach((e, index) => {
    const label = (e.args as { label?: unknown } | undefined)?.label;
    if (e.action === 'rent_attempt' && typeof label === 'string') attempted.set(label, { index, at: Date.parse(e.at) });
    if (e.action === 'rent' && typeof label === 'string') concludedAt.set(baseLabel(label), index);
    if (e.action === 'rent' && e.result === 'ok') {
      if (typeof label === 'string') recorded.add(label);
      if (e.instance_id) recordedIds.add(e.instance_id);
    }
    if (e.action === 'late_rental' && e.instance_id) handled.add(e.instance_id);
  });
  const inFlightMs = 2 * deps.config.createCommitWindowMs + IN_FLIGHT_MARGIN_MS;
  const givenUp = (label: string) => {
    const a = attempted.get(label);
    if (a === undefined) return false;
    return (concludedAt.get(baseLabel(label)) ?? -1) > a.index || !(Date.now() - a.at < inFlightMs);
  };
  let late: LateRental[] = [];
  for (const inst of instances) {
    const label = inst.label ?? '';
    if (!givenUp(label) || recorded.has(label) || recordedIds.has(inst.id)) continue;
    let stopped = handled.has(inst.id) || inst.intended_status === 'stopped';
    if (!stopped) {
      // A safety stop over the whole account: the duplicate has no owner here until this record names one.
      stopped = await accountVast(deps)
        .setState(inst.id, 'stopped')
        .then(
          () => true,
          () => false,
        );
      recordOutcome(
        deps.audit,
        { tool: 'status', action: 'late_rental', args: { label }, result: stopped ? 'ok' : 'error', instance_id: inst.id },
        `instance #${inst.id} was stopped`,
      );
    }
    late.push({ instance_id: inst.id, label, stopped });
  }
  // Shown only to who may see it: the attempt's caller (instanceOwners), their team, or the operator.
  const seen = new Set(
    (
      await visibleInstances(
        deps,
        late.map((l) => ({ id: l.instance_id })),
      )
    ).map((i) => i.id),
  );
  late = late.filter((l) => seen.has(l.instance_id));
  if (!late.length) return { late, note: null };
  const ids = late.map((l) => `#${l.instance_id}`).join(', ');
  return {
    late,
    note:
      `DUPLICATE RENTAL found: ${ids} ${late.length > 1 ? 'were' : 'was'} rented by a create the platform committed late (after this server had given up on it). ` +
      `The server stopped ${late.length > 1 ? 'them' : 'it'}; the disk keeps billing until destroyed. Tell the user and ask whether to destroy ${late.length > 1 ? 'them' : 'it'} (destroy with discard: true) or keep ${late.length > 1 ? 'them' : 'it'}.`,
  };
}
