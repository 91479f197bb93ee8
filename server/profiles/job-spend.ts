import type { ServerDeps } from '../deps.js';
import { identityOf } from '../identity/caller-deps.js';
import { InputError } from '../errors.js';
import { findProfile } from './apply-profile.js';
import { attributeProject } from './attribution.js';
import { checkAndReserve, currentProfiles, reservationsOf } from './spend-gate.js';

/**
 * The caps at job submit (15.3, 13.8): the job's spend is projected as what its own cap lets it spend
 * (its price for max_hours, at most max_cost_usd) and checked against the overall, project, user and
 * team limits. For the proposal it only checks; once the user said yes (`reserve`) the projection is
 * reserved atomically, as create does, so two submits cannot each pass against the same "spent so far"
 * while their supervisor has not rented yet. The job binds the reservation to each instance it rents
 * (what they charge pays it off) and releases it when it ends. Returns the project and the reservation.
 */
export async function checkJobSpend(
  deps: ServerDeps,
  spec: { profile?: string; max_cost_usd: number; max_hours: number },
  quote: { total_per_hour: number; offer: { gpu_name: string; num_gpus: number; reliability: number | null } },
  reserve = false,
): Promise<{ project: string | null; reservation: string | null }> {
  const file = currentProfiles(deps);
  const profile = findProfile(file, spec.profile);
  if (profile && spec.max_hours > profile.max_hours)
    throw new InputError(
      `Refused: profile "${spec.profile}" allows at most ${profile.max_hours} h per rental, and this job asks for max_hours ${spec.max_hours}. Lower max_hours, or use another profile. Nothing was submitted.`,
    );
  const who = identityOf(deps);
  const project = attributeProject(file, who.caller, who.team, { profileName: spec.profile, profile });
  const rate = Math.max(quote.total_per_hour, 1e-9);
  const { reservation } = await checkAndReserve(deps, {
    profileName: spec.profile,
    profile,
    project,
    who: { user: who.caller.user, team: who.team, account: who.account },
    perInstance: [quote.total_per_hour],
    totalPerHour: quote.total_per_hour,
    hours: Math.min(spec.max_hours, spec.max_cost_usd / rate),
    // Provisioning and recoveries take time too: the reservation outlives the planned hours by one.
    job: { windowHours: spec.max_hours + 1 },
    offers: [quote.offer],
    dryRun: !reserve,
  });
  return { project: project ?? null, reservation };
}

/**
 * The reservation a job's submit made (its submit audit record), if any. Every replica's records: with a shared
 * store the reservations are shared too, so the supervisor running the job settles it whichever replica took the
 * submit. When the shared records cannot be read, this server's own (a submit through it is found all the same).
 */
async function jobReservation(deps: ServerDeps, jobId: string): Promise<string | null> {
  const entries = await deps.audit.entriesShared().catch(() => deps.audit.entries());
  let found: string | null = null;
  for (const e of entries) {
    const job = (e.args as { job?: unknown } | undefined)?.job;
    const r = (e.detail as { reservation?: unknown } | undefined)?.reservation;
    if (e.action === 'submit' && e.result === 'ok' && job === jobId && typeof r === 'string') found = r;
  }
  return found;
}

/**
 * Binds a job's reservation to an instance it rented, or releases it when the job ended. Never rejects:
 * an unbound reservation keeps counting until its window ends (fail safe), a failed release likewise.
 */
export async function settleJobReservation(deps: ServerDeps, jobId: string, how: { rented: number } | 'ended'): Promise<void> {
  try {
    const id = await jobReservation(deps, jobId);
    if (!id) return;
    const r = reservationsOf(deps);
    if (how === 'ended') await r.release(id);
    else await r.bind(id, [how.rented]);
  } catch (e) {
    deps.logger.warn({ err: (e as Error).message, job: jobId }, 'could not settle a job budget reservation');
  }
}
