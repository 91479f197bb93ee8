import type { ServerDeps } from '../deps.js';
import { InputError } from '../errors.js';
import { sharedEntries } from '../profiles/attribution.js';
import type { AuditActor, AuditEntry } from '../state/audit-log.js';
import { identityOf, userCopyDir } from './caller-deps.js';
import type { Caller } from './caller.js';

/**
 * What a caller may do with a job: `control` (cancel, revoke, copy artifacts), `read` (status, logs,
 * artifact list) or `none` (the job is not shown: its existence is not revealed). The local (stdio)
 * user runs the server and controls every job. An authenticated user controls their own jobs and reads
 * those of their team; a job whose submitter is unknown (submitted locally, or before identities) is
 * not theirs (fail closed).
 */
export type JobAccess = 'control' | 'read' | 'none';

export function jobAccess(caller: Caller, team: string | null, owner: AuditActor | null | undefined): JobAccess {
  if (!caller.authenticated) return 'control';
  if (!owner?.authenticated || owner.user === null) return 'none';
  if (owner.user === caller.user) return 'control';
  return team !== null && owner.team === team ? 'read' : 'none';
}

/** Who submitted each job, from the audit log's `submit` records (the store may add an owner column; this needs none). */
function ownersIn(entries: AuditEntry[]): Map<string, AuditActor | null> {
  const out = new Map<string, AuditActor | null>();
  for (const e of entries) {
    const job = (e.args as { job?: unknown } | undefined)?.job;
    if (e.tool === 'job_submit' && e.action === 'submit' && e.result === 'ok' && typeof job === 'string') out.set(job, e.actor ?? null);
  }
  return out;
}

/** Who submitted each job, through any replica; rejects (AuditUnreadable) when the shared log cannot be read. */
export async function jobOwners(deps: ServerDeps): Promise<Map<string, AuditActor | null>> {
  return ownersIn(await sharedEntries(deps.audit, 'who submitted each job'));
}

const copyBaseOf = (owner: AuditActor | null | undefined) => (owner?.authenticated && owner.user !== null ? userCopyDir(owner.user) : '');

/**
 * Where a job's local inputs and outputs live under the copy root: the submitter's own folder when they
 * were authenticated (their paths were checked against it at submit), else the root itself. Synchronous
 * for input staging: from this server's records and the last shared read (see jobCopyBaseShared).
 */
export function jobCopyBase(deps: ServerDeps, jobId: string): string {
  return copyBaseOf(ownersIn(deps.audit.entriesKnown()).get(jobId));
}

/** jobCopyBase from every replica's records (a job submitted through another replica); rejects when they cannot be read. */
export async function jobCopyBaseShared(deps: ServerDeps, jobId: string): Promise<string> {
  return copyBaseOf((await jobOwners(deps)).get(jobId));
}

/** Throws unless the caller of this call may `need` the job (tools/job-*.ts call it first). */
export async function assertJobAccess(deps: ServerDeps, jobId: string, need: Exclude<JobAccess, 'none'>): Promise<void> {
  const { caller, team } = identityOf(deps);
  if (!caller.authenticated) return;
  const access = jobAccess(caller, team, (await jobOwners(deps)).get(jobId));
  if (access === 'none') throw new InputError(`No job ${JSON.stringify(jobId)}. Call job_status without job_id to list your jobs.`);
  if (access === 'read' && need === 'control')
    throw new InputError(
      `Refused: job ${JSON.stringify(jobId)} belongs to another user of your team; you may read it, not change it. Ask its owner. Nothing was done.`,
    );
}

/** A filter for job lists: only the jobs this call's caller may at least read (and a refusal for `jobId` if they may not). */
export async function visibleJobs(deps: ServerDeps, jobId?: string): Promise<(job: { id: string }) => boolean> {
  if (jobId !== undefined) await assertJobAccess(deps, jobId, 'read');
  const { caller, team } = identityOf(deps);
  if (!caller.authenticated) return () => true;
  const owners = await jobOwners(deps);
  return (job) => jobAccess(caller, team, owners.get(job.id)) !== 'none';
}
