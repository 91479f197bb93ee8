import type { ServerDeps } from '../deps.js';
import { InputError } from '../errors.js';
import type { AuditActor } from '../state/audit-log.js';
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
export function jobOwners(deps: ServerDeps): Map<string, AuditActor | null> {
  const out = new Map<string, AuditActor | null>();
  for (const e of deps.audit.entries()) {
    const job = (e.args as { job?: unknown } | undefined)?.job;
    if (e.tool === 'job_submit' && e.action === 'submit' && e.result === 'ok' && typeof job === 'string') out.set(job, e.actor ?? null);
  }
  return out;
}

/**
 * Where a job's local inputs and outputs live under the copy root: the submitter's own folder when they
 * were authenticated (their paths were checked against it at submit), else the root itself.
 */
export function jobCopyBase(deps: ServerDeps, jobId: string): string {
  const owner = jobOwners(deps).get(jobId);
  return owner?.authenticated && owner.user !== null ? userCopyDir(owner.user) : '';
}

/** Throws unless the caller of this call may `need` the job (tools/job-*.ts call it first). */
export function assertJobAccess(deps: ServerDeps, jobId: string, need: Exclude<JobAccess, 'none'>): void {
  const { caller, team } = identityOf(deps);
  if (!caller.authenticated) return;
  const access = jobAccess(caller, team, jobOwners(deps).get(jobId));
  if (access === 'none') throw new InputError(`No job ${JSON.stringify(jobId)}. Call job_status without job_id to list your jobs.`);
  if (access === 'read' && need === 'control')
    throw new InputError(
      `Refused: job ${JSON.stringify(jobId)} belongs to another user of your team; you may read it, not change it. Ask its owner. Nothing was done.`,
    );
}

/** A filter for job lists: only the jobs this call's caller may at least read (and a refusal for `jobId` if they may not). */
export function visibleJobs(deps: ServerDeps, jobId?: string): (job: { id: string }) => boolean {
  if (jobId !== undefined) assertJobAccess(deps, jobId, 'read');
  const { caller, team } = identityOf(deps);
  if (!caller.authenticated) return () => true;
  const owners = jobOwners(deps);
  return (job) => jobAccess(caller, team, owners.get(job.id)) !== 'none';
}
