import { InputError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import { instanceBurnPerHour, round2, round4 } from '../vast/pricing.js';
import type { Instance } from '../vast/schemas.js';
import type { Profile, ProfilesFile } from './profile-config.js';

export interface LimitStatus {
  total_usd: number | null;
  spent_usd: number;
  remaining_usd: number | null;
  burn_per_hour: number;
  max_burn_per_hour: number | null;
}

export interface BudgetStatus extends LimitStatus {
  since: string;
  projects: Record<string, LimitStatus>;
}

/** Instance ids of a project: labels `<account>-<project>-<suffix>`, live or recorded in the audit log. */
function projectIds(deps: ServerDeps, instances: Instance[], project: string): Set<number> {
  const marker = `-${project}-`;
  const ids = new Set(instances.filter((i) => (i.label ?? '').includes(marker)).map((i) => i.id));
  for (const e of deps.audit.entries()) {
    const label = (e.args as { label?: unknown } | undefined)?.label;
    if (e.action === 'rent' && e.result === 'ok' && typeof label === 'string' && label.includes(marker) && e.instance_id) ids.add(e.instance_id);
  }
  return ids;
}

/** Spend since the budget start and the burn right now, overall and per project. */
export async function budgetStatus(deps: ServerDeps, file: ProfilesFile, instances: Instance[]): Promise<BudgetStatus> {
  const b = file.budgets;
  const now = deps.now();
  const sinceEpoch = b.since ? Date.parse(b.since) / 1000 : now - 30 * 86400;
  const charges = await deps.vast.charges(sinceEpoch, now + 60);
  const perInstance = new Map<number, number>();
  for (const c of charges) {
    const id = Number(/^instance-(\d+)$/.exec(c.source)?.[1]);
    if (Number.isFinite(id)) perInstance.set(id, (perInstance.get(id) ?? 0) + c.amount);
  }
  const spentOf = (ids: Set<number> | null) => round2([...perInstance.entries()].filter(([id]) => !ids || ids.has(id)).reduce((s, [, a]) => s + a, 0));
  const burnOf = (ids: Set<number> | null) => round4(instances.filter((i) => !ids || ids.has(i.id)).reduce((s, i) => s + instanceBurnPerHour(i).total, 0));
  const status = (ids: Set<number> | null, total?: number, maxBurn?: number): LimitStatus => {
    const spent = spentOf(ids);
    return { total_usd: total ?? null, spent_usd: spent, remaining_usd: total !== undefined ? round2(total - spent) : null, burn_per_hour: burnOf(ids), max_burn_per_hour: maxBurn ?? null };
  };
  const projects: Record<string, LimitStatus> = {};
  for (const [name, limit] of Object.entries(b.projects)) projects[name] = status(projectIds(deps, instances, name), limit.total_usd, limit.max_burn_per_hour);
  return { since: new Date(sinceEpoch * 1000).toISOString(), ...status(null, b.total_usd, b.max_burn_per_hour), projects };
}

/**
 * Server-side refusals for a create, with the numbers: a price above the profile's cap, a projected
 * cost over the remaining budget, or a burn rate over the cap (overall or for the project).
 */
export function enforceLimits(opts: { profileName?: string; profile?: Profile; perInstance: number[]; totalPerHour: number; hours: number; budget: BudgetStatus; project?: string }): void {
  const { profile, budget } = opts;
  if (profile) {
    const worst = Math.max(...opts.perInstance);
    if (worst > profile.max_dph + 1e-9) {
      throw new InputError(`Refused: the offer costs $${worst.toFixed(4)}/h, above profile "${opts.profileName}"'s cap of $${profile.max_dph.toFixed(2)}/h. Pick a cheaper offer or another profile.`);
    }
  }
  const projected = round2(opts.totalPerHour * opts.hours);
  const check = (scope: string, s: LimitStatus) => {
    if (s.remaining_usd !== null && projected > s.remaining_usd + 1e-9) {
      throw new InputError(`Refused: ${opts.hours} h at $${opts.totalPerHour.toFixed(4)}/h would cost $${projected.toFixed(2)}, more than the $${s.remaining_usd.toFixed(2)} left of the ${scope} budget ($${s.spent_usd.toFixed(2)} of $${s.total_usd!.toFixed(2)} spent).`);
    }
    if (s.max_burn_per_hour !== null && s.burn_per_hour + opts.totalPerHour > s.max_burn_per_hour + 1e-9) {
      throw new InputError(`Refused: the ${scope} burn rate would be $${(s.burn_per_hour + opts.totalPerHour).toFixed(4)}/h (now $${s.burn_per_hour.toFixed(4)}/h + $${opts.totalPerHour.toFixed(4)}/h), above the cap of $${s.max_burn_per_hour.toFixed(2)}/h. Stop or destroy something first, or raise the cap.`);
    }
  };
  check('overall', budget);
  if (opts.project) {
    const p = budget.projects[opts.project];
    if (p) check(`project "${opts.project}"`, p);
  }
}
