import type { ServerDeps } from '../deps.js';
import type { AttemptRow, Fence, JobRow, JobStore } from '../store/job-store.js';
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
  memo.orphanScanAt = now;
  memo.orphanSettled = settled;
  const found: OrphanFound[] = [];
  for (const inst of await deps.vast.listInstances()) {
    const hit = inst.label ? byLabel.get(baseLabel(inst.label)) : undefined;
    if (!hit || inst.id === hit.a.instance_id) continue;
    // A rental still being reconciled by its launch step is not an orphan yet.
    if (hit.a.state === 'sent') continue;
    const fence = await store.acquireLease(`job:${hit.job.id}`, owner, settings.leaseSeconds, wallNow());
    // Another supervisor drives this job: it runs the same scan.
    if (!fence) continue;
    const stoppedAlready = inst.intended_status === 'stopped' && inst.actual_status === 'stopped';
    found.push(await handleOrphan(deps, store, fence, hit.job, hit.a, inst.id, inst.label!, stoppedAlready));
    // A second late try of the same attempt is then a duplicate of the one just recorded.
    if (hit.a.instance_id === null) hit.a = { ...hit.a, state: 'stopped', instance_id: inst.id };
  }
  return found;
}

async function handleOrphan(
  deps: ServerDeps,
  store: JobStore,
  fence: Fence,
  job: JobRow,
  a: AttemptRow,
  instanceId: number,
  label: string,
  stoppedAlready: boolean,
): Promise<OrphanFound> {
  const now = deps.now();
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
  if (current && (isTerminal(current.state) || current.state === 'awaiting_user') && !current.waiting_for?.includes(`#${instanceId}`)) {
    const waiting = current.state === 'awaiting_user' && current.waiting_for ? `${current.waiting_for}; ${told}` : told;
    await store.updateJob(fence, job.id, { waiting_for: waiting }, now);
  }
  return { job_id: job.id, attempt: a.n, instance_id: instanceId, label, stopped_now: stoppedNow };
}
