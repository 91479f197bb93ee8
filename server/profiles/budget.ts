import { InputError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import { diskPerHour, round2, round4 } from '../vast/pricing.js';
import type { Instance } from '../vast/schemas.js';
import type { Profile, ProfilesFile } from './profile-config.js';
import type { Outstanding } from './reservations.js';
import { ownersOf, type InstanceOwner } from './attribution.js';
import { ownEntry } from './own-entry.js';

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
  /** The caller's own spend and limits (authenticated callers; spend from the audit log's actor, never labels). */
  user?: LimitStatus & { name: string };
  team?: LimitStatus & { name: string };
}

/** Whose spend to add to a snapshot: the caller, and the configured account the call uses (null: the server's key). */
export interface SpendWho {
  user: string | null;
  team: string | null;
  account: string | null;
}

/**
 * What an instance will burn once it runs: GPU and disk unless it is meant to stay stopped. A cap
 * checked against today's burn would let instances still loading (disk only) slip under it.
 */
export function projectedBurnPerHour(inst: Instance): number {
  const disk = diskPerHour(inst.storage_cost ?? 0, inst.disk_space ?? 0);
  const willRun = inst.actual_status === 'running' || (inst.intended_status ?? 'running') !== 'stopped';
  const gpu = willRun ? (inst.dph_base ?? Math.max(0, (inst.dph_total ?? 0) - disk)) : 0;
  return round4(gpu + disk);
}

/**
 * Instance ids of a project: rentals this server recorded with that project. Labels alone are not
 * trusted (someone else's label may contain the name, and a long account name may cut it off).
 */
export function projectIds(owners: Map<number, InstanceOwner>, project: string): Set<number> {
  // A job's rentals belong to the project its submit record names (server/profiles/attribution.ts).
  return new Set([...owners].filter(([, o]) => o.project === project).map(([id]) => id));
}

export interface SpendSnapshot {
  budget: BudgetStatus;
  /** USD charged per instance since the budget start. */
  charged: Map<number, number>;
}

/**
 * Spend since the budget start and the burn once running, overall and per project. Whose instance is
 * whose comes from every replica's audit log; when it cannot be read this rejects (AuditUnreadable).
 */
export async function spendSnapshot(deps: ServerDeps, file: ProfilesFile, instances: Instance[], who?: SpendWho): Promise<SpendSnapshot> {
  const b = file.budgets;
  const now = deps.now();
  const sinceEpoch = b.since ? Date.parse(b.since) / 1000 : now - 30 * 86400;
  const charges = await deps.vast.charges(sinceEpoch, now + 60);
  const perInstance = new Map<number, number>();
  for (const c of charges) {
    const id = Number(/^instance-(\d+)$/.exec(c.source)?.[1]);
    if (Number.isFinite(id)) perInstance.set(id, (perInstance.get(id) ?? 0) + c.amount);
  }
  const spentOf = (ids: Set<number> | null) =>
    round2([...perInstance.entries()].filter(([id]) => !ids || ids.has(id)).reduce((s, [, a]) => s + a, 0));
  const burnOf = (ids: Set<number> | null) => round4(instances.filter((i) => !ids || ids.has(i.id)).reduce((s, i) => s + projectedBurnPerHour(i), 0));
  const status = (ids: Set<number> | null, total?: number, maxBurn?: number): LimitStatus => {
    const spent = spentOf(ids);
    return {
      total_usd: total ?? null,
      spent_usd: spent,
      remaining_usd: total !== undefined ? round2(total - spent) : null,
      burn_per_hour: burnOf(ids),
      max_burn_per_hour: maxBurn ?? null,
    };
  };
  const wantsOwners = Object.keys(b.projects).length > 0 || (who !== undefined && (who.user !== null || who.team !== null));
  const owners = wantsOwners ? await ownersOf(deps) : new Map<number, InstanceOwner>();
  const projects: Record<string, LimitStatus> = {};
  for (const [name, limit] of Object.entries(b.projects)) projects[name] = status(projectIds(owners, name), limit.total_usd, limit.max_burn_per_hour);
  const budget: BudgetStatus = { since: new Date(sinceEpoch * 1000).toISOString(), ...status(null, b.total_usd, b.max_burn_per_hour), projects };
  if (who && (who.user !== null || who.team !== null)) {
    const idsOf = (match: (o: { user: string | null; team: string | null }) => boolean) =>
      new Set([...owners].filter(([, o]) => o.account === who.account && match(o)).map(([id]) => id));
    if (who.user !== null) {
      const limit = { ...(b.each_user ?? {}), ...(ownEntry(b.users, who.user) ?? {}) };
      budget.user = {
        name: who.user,
        ...status(
          idsOf((o) => o.user === who.user),
          limit.total_usd,
          limit.max_burn_per_hour,
        ),
      };
    }
    if (who.team !== null) {
      const limit = ownEntry(b.teams, who.team) ?? {};
      budget.team = {
        name: who.team,
        ...status(
          idsOf((o) => o.team === who.team),
          limit.total_usd,
          limit.max_burn_per_hour,
        ),
      };
    }
  }
  return { budget, charged: perInstance };
}

export async function budgetStatus(deps: ServerDeps, file: ProfilesFile, instances: Instance[], who?: SpendWho): Promise<BudgetStatus> {
  return (await spendSnapshot(deps, file, instances, who)).budget;
}

export interface OfferFacts {
  gpu_name: string;
  num_gpus: number;
  reliability: number | null;
}

/** An offer that does not fit the profile (GPU model, count, reliability), whatever way it was chosen. */
export function assertOfferFitsProfile(profileName: string, profile: Profile, offers: OfferFacts[]): void {
  for (const o of offers) {
    const why =
      o.gpu_name !== profile.gpu_name
        ? `its GPU is ${o.gpu_name}, not ${profile.gpu_name}`
        : o.num_gpus !== profile.num_gpus
          ? `it has ${o.num_gpus} GPU(s), not ${profile.num_gpus}`
          : (o.reliability ?? 0) + 1e-9 < profile.min_reliability
            ? `its reliability ${o.reliability ?? 'unknown'} is below ${profile.min_reliability}`
            : null;
    if (why)
      throw new InputError(
        `Refused: the offer does not fit profile "${profileName}": ${why}. Pick an offer that matches the profile, or another profile.`,
      );
  }
}

/**
 * Server-side refusals for anything that raises spend, with the numbers: a price above the profile's
 * cap, a projected cost over the remaining budget (after what approved rentals have reserved), or a
 * burn rate over the cap (overall or for the project). `replacesPerHour` is what the change stops
 * burning (e.g. the old bid of the same instance).
 */
export function enforceLimits(opts: {
  profileName?: string;
  profile?: Profile;
  perInstance: number[];
  totalPerHour: number;
  hours: number;
  budget: BudgetStatus;
  project?: string;
  offers?: OfferFacts[];
  reserved?: Outstanding[];
  replacesPerHour?: number;
  /** Instance ids already counted in the budget's burn: a reservation bound to them is not counted twice. */
  listed?: Set<number>;
}): void {
  const { profile, budget } = opts;
  if (profile) {
    const worst = Math.max(...opts.perInstance);
    if (worst > profile.max_dph + 1e-9) {
      throw new InputError(
        `Refused: the offer costs $${worst.toFixed(4)}/h, above profile "${opts.profileName}"'s cap of $${profile.max_dph.toFixed(2)}/h. Pick a cheaper offer or another profile.`,
      );
    }
    if (opts.offers) assertOfferFitsProfile(opts.profileName ?? '?', profile, opts.offers);
  }
  const projected = round2(opts.totalPerHour * opts.hours);
  const added = opts.totalPerHour - (opts.replacesPerHour ?? 0);
  const check = (scope: string, key: string, s: LimitStatus) => {
    const mine = (opts.reserved ?? []).filter((r) => r.scopes.includes(key));
    const reserved = round2(mine.reduce((a, r) => a + r.amount, 0));
    // Approved rentals whose instances are not listed yet (another process is renting them right now).
    const pendingBurn = round4(
      mine.filter((r) => !r.instance_ids.length || !r.instance_ids.every((id) => opts.listed?.has(id))).reduce((a, r) => a + r.per_hour, 0),
    );
    if (s.remaining_usd !== null && projected > s.remaining_usd - reserved + 1e-9) {
      const held = reserved > 0 ? ` and $${reserved.toFixed(2)} reserved by approved rentals` : '';
      throw new InputError(
        `Refused: ${Math.round(opts.hours * 100) / 100} h at $${opts.totalPerHour.toFixed(4)}/h would cost $${projected.toFixed(2)}, more than the $${Math.max(0, s.remaining_usd - reserved).toFixed(2)} left of the ${scope} budget ($${s.spent_usd.toFixed(2)} of $${s.total_usd!.toFixed(2)} spent${held}). Nothing was rented; ask for fewer hours or a lower cap, or wait until other rentals end.`,
      );
    }
    if (s.max_burn_per_hour !== null && s.burn_per_hour + pendingBurn + added > s.max_burn_per_hour + 1e-9) {
      const held = pendingBurn > 0 ? ` + $${pendingBurn.toFixed(4)}/h of approved rentals still being created` : '';
      throw new InputError(
        `Refused: the ${scope} burn rate would be $${(s.burn_per_hour + pendingBurn + added).toFixed(4)}/h once running (now $${s.burn_per_hour.toFixed(4)}/h counting every instance at its running price${held}, + $${added.toFixed(4)}/h), above the cap of $${s.max_burn_per_hour.toFixed(2)}/h. Stop or destroy something first, or raise the cap.`,
      );
    }
  };
  check('overall', 'overall', budget);
  if (opts.project) {
    const p = ownEntry(budget.projects, opts.project);
    if (p) check(`project "${opts.project}"`, `project:${opts.project}`, p);
  }
  if (budget.user) check(`user "${budget.user.name}"`, `user:${budget.user.name}`, budget.user);
  if (budget.team) check(`team "${budget.team.name}"`, `team:${budget.team.name}`, budget.team);
}
