import { statSync } from 'node:fs';
import type { ServerDeps } from '../deps.js';
import { ConfigError } from '../errors.js';
import type { Instance } from '../vast/schemas.js';
import { instanceOwners, sharedEntries } from './attribution.js';
import { AuditUnreadable } from '../state/audit-log.js';
import { enforceLimits, projectedBurnPerHour, spendSnapshot, type OfferFacts, type SpendWho } from './budget.js';
import { loadProfiles, type Profile, type ProfilesFile } from './profile-config.js';
import { BudgetReservations, type Reservations } from './reservations.js';
import { StoreUnavailable } from '../store/pg-store.js';
import { ownEntry } from './own-entry.js';

// Keyed by the config object, which every per-caller view of the deps shares (server/identity/caller-deps.ts).
const seenMtime = new WeakMap<object, number>();

/** The profiles file as it is now: an edit takes effect without a restart; a broken edit refuses spending. */
export function currentProfiles(deps: ServerDeps): ProfilesFile {
  const path = deps.config.profilesPath;
  if (!path) return deps.profiles;
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    return deps.profiles;
  }
  const seen = seenMtime.get(deps.config);
  if (seen === undefined) {
    seenMtime.set(deps.config, mtime);
    return deps.profiles;
  }
  if (mtime === seen) return deps.profiles;
  try {
    deps.profiles = loadProfiles(path).file;
    seenMtime.set(deps.config, mtime);
    deps.logger.info({ path }, 'profiles file changed: reloaded');
  } catch (e) {
    throw new ConfigError(`The profiles file was edited and is now invalid, so no spending is allowed until it is fixed: ${(e as Error).message}`);
  }
  return deps.profiles;
}

/** For reads (billing, status, who the caller is): the file as it is now, or the last good one after a broken edit. */
export function readableProfiles(deps: ServerDeps): ProfilesFile {
  try {
    return currentProfiles(deps);
  } catch {
    return deps.profiles;
  }
}

export interface SpendRequest {
  profileName?: string;
  profile?: Profile;
  project?: string;
  perInstance: number[];
  totalPerHour: number;
  /** Hours the human or the agent asked to project; the profile's max_hours, or at least the configured floor, wins. */
  hours: number | undefined;
  /**
   * A job: `hours` is already what its own hard cap lets it run at this price (never more than its
   * max_hours), so it is projected as is, and the reservation lasts `windowHours` (the job's max_hours
   * and time to provision), not the profile's duration.
   */
  job?: { windowHours: number };
  offers?: OfferFacts[];
  /** What the change stops burning (the instance's own current projected burn, for start/bid). */
  replacesPerHour?: number;
  instances?: Instance[];
  /** Check only (for a proposal): count existing reservations, reserve nothing. */
  dryRun?: boolean;
  /** Whose user and team limits apply (an authenticated caller, or the owner of the instance started). */
  who?: SpendWho;
}

const SPEND_REFUSED = 'Nothing was rented, started or changed, and no budget was reserved';

/** Projected hours never come from the agent alone: the profile's max_hours, else at least the budget's floor. */
export function enforcedHours(file: ProfilesFile, profile: Profile | undefined, hours: number | undefined): number {
  if (profile) return profile.max_hours;
  return Math.max(hours ?? 0, file.budgets.min_projection_hours ?? 1);
}

/**
 * Checks every cap for a change that raises spend and, when a total budget applies, reserves the
 * projected cost atomically across processes. Returns the reservation (bind it to the instances once
 * rented, release it when nothing was rented) or null.
 */
export async function checkAndReserve(
  deps: ServerDeps,
  req: SpendRequest,
): Promise<{ reservation: string | null; hours: number; charged: Map<number, number> }> {
  const file = currentProfiles(deps);
  const instances = req.instances ?? (await deps.vast.listInstances());
  const { budget, charged } = await spendSnapshot(deps, file, instances, req.who).catch((e: unknown) => {
    // Spend that cannot be attributed is not "no spend": the change is refused.
    throw e instanceof AuditUnreadable ? new AuditUnreadable(e.reason, 'whose rentals count against which budget', SPEND_REFUSED) : e;
  });
  const hours = req.job && req.hours !== undefined ? req.hours : enforcedHours(file, req.profile, req.hours);
  const opts = { ...req, hours, budget };
  const scopes = [
    'overall',
    ...(req.project ? [`project:${req.project}`] : []),
    ...(budget.user ? [`user:${budget.user.name}`] : []),
    ...(budget.team ? [`team:${budget.team.name}`] : []),
  ];
  const project = req.project !== undefined ? ownEntry(budget.projects, req.project) : undefined;
  const limited = (l: { total_usd: number | null; max_burn_per_hour: number | null } | undefined) =>
    l !== undefined && (l.total_usd !== null || l.max_burn_per_hour !== null);
  const hasLimit = limited(budget) || limited(project) || limited(budget.user) || limited(budget.team);
  const listed = new Set(instances.map((i) => i.id));
  if (!hasLimit) {
    enforceLimits(opts);
    return { reservation: null, hours, charged };
  }
  const reservations = reservationsOf(deps);
  const now = deps.now();
  if (req.dryRun) {
    const reserved = await reservations.outstanding(now, charged).catch(budgetUnchecked);
    enforceLimits({ ...opts, listed, reserved });
    return { reservation: null, hours, charged };
  }
  const amount = Math.round(req.totalPerHour * hours * 100) / 100;
  const added = req.totalPerHour - (req.replacesPerHour ?? 0);
  const reservation = await reservations
    .reserve(
      amount,
      scopes,
      now,
      now + (req.job ? Math.max(req.job.windowHours, hours) : hours) * 3600,
      charged,
      (reserved) => enforceLimits({ ...opts, listed, reserved }),
      Math.max(0, added),
    )
    .catch(budgetUnchecked);
  return { reservation, hours, charged };
}

/** The reservations of this server: the shared store's (replicas) or the state directory's. */
export function reservationsOf(deps: ServerDeps): Reservations {
  return deps.reservations ?? new BudgetReservations(deps.config.stateDir);
}

/** Reservations that cannot be read are not "none": the change is refused, saying why. */
function budgetUnchecked(e: unknown): never {
  throw e instanceof StoreUnavailable ? new StoreUnavailable(e.reason, `so the budget cannot be checked. ${SPEND_REFUSED}.`) : e;
}

/** After the platform call: bind the reservation to what was rented (or started), or release it when nothing was. */
export async function bindReservation(deps: ServerDeps, id: string | null, instanceIds: number[], baseline = 0): Promise<void> {
  if (!id) return;
  const r = reservationsOf(deps);
  try {
    if (instanceIds.length) await r.bind(id, instanceIds, baseline);
    else await r.release(id);
  } catch (e) {
    // Fail safe: an unbound reservation keeps counting against the budget until its window ends.
    deps.logger.warn({ err: (e as Error).message, id }, 'could not bind a budget reservation');
  }
}

/** Caps for start and bid: the instance's profile and project come from its rent record (through whichever replica). */
export async function checkInstanceSpend(
  deps: ServerDeps,
  inst: Instance,
  newPerHour: number,
): Promise<{ reservation: string | null; bind: (ok: boolean) => Promise<void> }> {
  const file = currentProfiles(deps);
  let profileName: string | undefined;
  let project: string | undefined;
  const entries = await sharedEntries(deps.audit, `which profile, project and user instance ${inst.id} was rented under`, SPEND_REFUSED);
  const owner = instanceOwners(entries).get(inst.id);
  for (const e of entries) {
    const d = e.detail as { profile?: unknown; project?: unknown } | undefined;
    if (e.action === 'rent' && e.result === 'ok' && e.instance_id === inst.id) {
      profileName = typeof d?.profile === 'string' ? d.profile : undefined;
      project = typeof d?.project === 'string' ? d.project : undefined;
    }
  }
  const profile = profileName ? file.profiles[profileName] : undefined;
  const { reservation, charged } = await checkAndReserve(deps, {
    profileName,
    profile,
    // A job's rental has its project on the job's submit record.
    project: project ?? owner?.project ?? undefined,
    perInstance: [newPerHour],
    totalPerHour: newPerHour,
    hours: undefined,
    replacesPerHour: projectedBurnPerHour(inst),
    // The instance's spend counts against whoever rented it (its user and team caps), as its project does.
    who: owner ? { user: owner.user, team: owner.team, account: owner.account } : undefined,
  });
  return { reservation, bind: (ok) => bindReservation(deps, reservation, ok ? [inst.id] : [], charged.get(inst.id) ?? 0) };
}
