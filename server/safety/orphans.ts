import type { ServerDeps } from '../deps.js';
import { accountVast } from '../identity/caller-deps.js';
import { visibleInstances } from '../identity/instance-access.js';
import type { Instance } from '../vast/schemas.js';
import { recordOutcome } from './mutation-record.js';

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
  let entries;
  try {
    entries = deps.audit.entries();
  } catch {
    return { late: [], note: null };
  }
  const attempted = new Set<string>();
  const recorded = new Set<string>();
  const recordedIds = new Set<number>();
  const handled = new Set<number>();
  for (const e of entries) {
    const label = (e.args as { label?: unknown } | undefined)?.label;
    if (e.action === 'rent_attempt' && typeof label === 'string') attempted.add(label);
    if (e.action === 'rent' && e.result === 'ok') {
      if (typeof label === 'string') recorded.add(label);
      if (e.instance_id) recordedIds.add(e.instance_id);
    }
    if (e.action === 'late_rental' && e.instance_id) handled.add(e.instance_id);
  }
  let late: LateRental[] = [];
  for (const inst of instances) {
    const label = inst.label ?? '';
    if (!attempted.has(label) || recorded.has(label) || recordedIds.has(inst.id)) continue;
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
    visibleInstances(
      deps,
      late.map((l) => ({ id: l.instance_id })),
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
