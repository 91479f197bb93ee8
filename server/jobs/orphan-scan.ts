import type { ServerDeps } from '../deps.js';
import type { AttemptRow, Fence, JobRow, JobStore } from '../store/job-store.js';
import type { Instance } from '../vast/schemas.js';
import type { SupervisorSettings } from './job-context.js';
import { isTerminal } from './state-machine.js';

/** How long after a job last changed a rental of one of its attempts may still commit (platform seconds). */
export const ORPHAN_WINDOW_SECONDS = 24 * 3600;
/** At most one listing per this many platform seconds (and per `confirmSeconds`). */
export const ORPHAN_SCAN_EVERY_SECONDS = 60;

/** What the scan remembers between passes (kept on the supervisor's memo). */
interface OrphanMemo {
  orphanScanAt?: number;
  /** The jobs that had ended or were waiting at the last scan: one more settling asks for a scan at once. */
  orphanSettled?: string;
  /** The pass's shared listing (supervisor.ts), when there is one. */
  passListing?: () => Promise<Instance[]>;
}

export interface OrphanFound {
  job_id: string;
  attempt: number;
  instance_id: number;
  label: string;
  /** True when this scan stopped it (false: it was stopped already, or stopping failed). */
  stopped_now: boolean;
}

const wallNow = () => Date.now() / 1000;
/** The create's retries carry `<label>-rN` (server/vast/rent.ts attemptLabel): all belong to the attempt. */
const baseLabel = (label: string) => label.replace(/-r\d+$/, '');

/**
 * Live rentals that carry one of these attempts' labels (or a retry's `-rN` form) but that no attempt records:
 * a create that committed after its attempt was given up, or an earlier try of one that committed after its
 * retry succeeded. Nothing was ever copied from them.
 */
export function unrecordedRentals<I extends { id: number; label?: string | null }>(
  instances: readonly I[],
  attempts: readonly Pick<AttemptRow, 'n' | 'label' | 'instance_id'>[],
): { inst: I; attempt: number }[] {
  const recorded = new Set(attempts.map((a) => a.instance_id).filter((id): id is number => id !== null));
  const out: { inst: I; attempt: number }[] = [];
  for (const inst of instances) {
    const a = inst.label ? attempts.find((x) => x.label === baseLabel(inst.label!)) : undefined;
    if (a && !recorded.has(inst.id)) out.push({ inst, attempt: a.n });
  }
  return out;
}

/**
 * Finds rentals of job attempts that no attempt accounts for: a create that committed after the
 * supervisor gave its attempt up (looked for twice, some time apart), or an earlier try of a create
 * that committed after a retry succeeded. Each is stopped, never destroyed (nothing was copied from
 * it), and reported: job logs and audit log when found; a given-up attempt records it (so the job's
 * teardown lists it); a job that ended or waits names it in waiting_for. Never throws: a failed
 * listing is retried on a later pass. Store calls are awaited (SQLite is synchronous, PostgreSQL not).
 */
export async function scanOrphans(
  deps: ServerDeps,
  store: JobStore,
  owner: string,
  settings: SupervisorSettings,
  /** The supervisor's memo (any object): the scan keeps its last time there. */
  memo: object,
): Promise<OrphanFound[]> {
  try {
    return await scan(deps, store, owner, settings, memo as OrphanMemo);
  } catch (e) {
    deps.logger.warn({ err: (e as Error).message }, 'orphan scan failed; retrying next pass');
    return [];
  }
}

async function scan(deps: ServerDeps, store: JobStore, owner: string, settings: SupervisorSettings, memo: OrphanMemo): Promise<OrphanFound[]> {
  const now = deps.now();
  const every = Math.max(ORPHAN_SCAN_EVERY_SECONDS, settings.confirmSeconds);
  const recent = (await store.listJobs()).filter((j) => now - j.updated_at <= ORPHAN_WINDOW_SECONDS);
  // A job that just ended or began to wait is scanned at once: what it reports to the user must name its orphans.
  const settled = recent
    .filter((j) => isTerminal(j.state) || j.state === 'awaiting_user')
    .map((j) => j.id)
    .join(',');
  if (memo.orphanScanAt !== undefined && now - memo.orphanScanAt < every && settled === memo.orphanSettled) return [];
  const byLabel = new Map<string, { job: JobRow; a: AttemptRow }>();
  for (const job of recent) for (const a of await store.attempts(job.id)) if (a.state !== 'intent') byLabel.set(a.label, { job, a });
  if (byLabel.size === 0) return [];
  const found: OrphanFound[] = [];
  // A scan counts as done (the next one waits its period) only when it saw every orphan through: a failed listing
  // throws before the memo is written, and a job whose lease is still held (a killed supervisor's, until it
  // expires) or whose orphan could not be stopped is looked at again on the next pass, not a period later.
  let complete = true;
  for (const inst of await (memo.passListing ? memo.passListing() : deps.vast.listInstances())) {
    const hit = inst.label ? byLabel.get(baseLabel(inst.label)) : undefined;
    if (!hit || inst.id === hit.a.instance_id) continue;
    // A rental still being reconciled by its launch step is not an orphan yet.
    if (hit.a.state === 'sent') continue;
    const stoppedAlready = inst.intended_status === 'stopped';
    const fence = await store.acquireLease(`job:${hit.job.id}`, owner, settings.leaseSeconds, wallNow());
    if (!fence) {
      // Another supervisor drives this job and runs the same scan; until the orphan is stopped, recorded and
      // named, this one looks again next pass (the holder may be a killed supervisor whose lease has not expired).
      if (!stoppedAlready || hit.a.instance_id === null || !namedIfSettled(hit.job, inst.id)) complete = false;
      continue;
    }
    const f = await takeOrphan(deps, store, fence, hit.job, hit.a, inst);
    if (!f.stopped_now && !stoppedAlready) complete = false;
    found.push(f);
    // A second late try of the same attempt is then a duplicate of the one just recorded.
    if (hit.a.instance_id === null) hit.a = { ...hit.a, state: 'stopped', instance_id: inst.id };
  }
  if (complete) {
    memo.orphanScanAt = now;
    memo.orphanSettled = settled;
  }
  return found;
}

/** A job that ended or waits names the orphan in its status; an active one names it when it settles. */
function namedIfSettled(job: JobRow, instanceId: number): boolean {
  return !(isTerminal(job.state) || job.state === 'awaiting_user') || new RegExp(`#${instanceId}(?!\\d)`).test(job.waiting_for ?? '');
}

/**
 * Takes one rental that no attempt records in hand for the job whose lease `fence` is: stopped (never destroyed:
 * nothing was copied from it), logged and audited, recorded on its attempt when that attempt was given up, and
 * named in the status of a job that ended or waits. Used by the scan and by the job's own teardown.
 */
export async function takeOrphan(
  deps: ServerDeps,
  store: JobStore,
  fence: Fence,
  job: JobRow,
  a: AttemptRow,
  inst: { id: number; label?: string | null; intended_status?: string | null },
): Promise<OrphanFound> {
  const now = deps.now();
  const instanceId = inst.id;
  const label = inst.label ?? '';
  // Stopping or stopped already (by us, or by the platform: an outbid rental): asking again changes nothing.
  const stoppedAlready = inst.intended_status === 'stopped';
  const adopt = a.instance_id === null;
  const why = adopt
    ? `instance #${instanceId} was rented after attempt ${a.n} had been given up (its create committed late)`
    : `instance #${instanceId} (${label}) was rented by an earlier try of attempt ${a.n}, which runs on instance #${a.instance_id}`;
  const note = `${why}: stopped, not destroyed (nothing was copied from it); its disk bills until it is destroyed`;
  let stoppedNow = false;
  if (!stoppedAlready) {
    try {
      await deps.vast.setState(instanceId, 'stopped');
      stoppedNow = true;
    } catch (e) {
      deps.logger.warn({ job: job.id, instanceId, err: (e as Error).message }, 'orphan scan: could not stop an instance; retrying next scan');
    }
    deps.audit.record({
      tool: 'job',
      action: 'stop',
      args: { job: job.id, why: `orphan: ${why}` },
      result: stoppedNow ? 'ok' : 'error',
      instance_id: instanceId,
      detail: { epoch: now },
    });
    if (!stoppedNow) return { job_id: job.id, attempt: a.n, instance_id: instanceId, label, stopped_now: false };
    await store.appendLogs(fence, job.id, a.n, now, [`[supervisor] ${note}`]);
    deps.logger.warn({ job: job.id, attempt: a.n, instanceId }, 'orphan rental found and stopped');
  }
  // Recorded on the given-up attempt, so the job's teardown (and its destroy gate) see it like any rental.
  if (adopt) await store.updateAttempt(fence, job.id, a.n, { state: 'stopped', instance_id: instanceId, ended_at: a.ended_at ?? now });
  const current = await store.getJob(job.id);
  const told = `orphan: ${note}. Destroy it (destroy tool, discard) once you are sure.`;
  if (current && !namedIfSettled(current, instanceId)) {
    // Appended, never replacing: what the job already names (other orphans, held disks) still bills.
    const waiting = current.waiting_for ? `${current.waiting_for}; ${told}` : told;
    await store.updateJob(fence, job.id, { waiting_for: waiting }, now);
  }
  return { job_id: job.id, attempt: a.n, instance_id: instanceId, label, stopped_now: stoppedNow };
}
