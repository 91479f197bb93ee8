import { InputError } from '../errors.js';
import type { JobRow, JobStore } from '../store/job-store.js';
import type { JobSpec } from './job-spec.js';

export interface JobView {
  job_id: string;
  name: string;
  state: string;
  outcome: string | null;
  attempt: number | null;
  instance_id: number | null;
  machine_id: number | null;
  price_per_hour: number | null;
  spent_usd: number;
  projected_usd: number;
  max_cost_usd: number;
  recoveries: number;
  last_heartbeat: number | null;
  last_checkpoint_step: number | null;
  cancel_requested: boolean;
  teardown_approval: 'granted' | 'revoked' | 'none';
  waiting_for: string | null;
  recent_events: { at: number; from: string | null; to: string; reason: string }[];
}

export async function requireJob(store: JobStore, id: string): Promise<JobRow> {
  const job = await store.getJob(id);
  if (!job) throw new InputError(`No job ${JSON.stringify(id)}. Call job_status without job_id to list jobs.`);
  return job;
}

/** What job_status and `vast-mcp jobs status` show. Spend is the supervisor's conservative estimate. */
export async function viewJob(store: JobStore, job: JobRow, now: number, events = 8): Promise<JobView> {
  const spec = job.spec as JobSpec;
  const attempts = await store.attempts(job.id);
  const a = attempts[attempts.length - 1] ?? null;
  let spent = 0;
  for (const x of attempts)
    if (x.started_at !== null && x.price_per_hour !== null) spent += (x.price_per_hour * Math.max(0, (x.ended_at ?? now) - x.started_at)) / 3600;
  const live = a && a.price_per_hour !== null && a.ended_at === null && !['succeeded', 'failed', 'cancelled', 'budget_exhausted'].includes(job.state);
  const remainingHours = Math.max(0, spec.max_hours - (a?.started_at ? (now - a.started_at) / 3600 : 0));
  const projected = Math.min(spec.max_cost_usd, spent + (live ? a!.price_per_hour! * remainingHours : 0));
  const ap = await store.approval(job.id);
  const history = await store.events(job.id);
  return {
    job_id: job.id,
    name: job.name,
    state: job.state,
    outcome: job.outcome,
    attempt: a?.n ?? null,
    instance_id: a?.instance_id ?? null,
    machine_id: a?.machine_id ?? null,
    price_per_hour: a?.price_per_hour ?? null,
    spent_usd: Math.round(spent * 10000) / 10000,
    projected_usd: Math.round(projected * 100) / 100,
    max_cost_usd: spec.max_cost_usd,
    recoveries: job.recoveries,
    last_heartbeat: job.last_heartbeat,
    last_checkpoint_step: job.checkpoint_step,
    cancel_requested: job.cancel_requested,
    teardown_approval: ap ? (ap.revoked_at === null ? 'granted' : 'revoked') : 'none',
    waiting_for: job.waiting_for,
    recent_events: history.slice(-events).map((e) => ({ at: e.at, from: e.from_state, to: e.to_state, reason: e.reason })),
  };
}

export function summaryLine(v: JobView): string {
  const where = v.instance_id ? ` on #${v.instance_id}` : '';
  return `${v.job_id} ${v.name}: ${v.state}${v.outcome && v.state !== v.outcome ? ` (→ ${v.outcome})` : ''}, attempt ${v.attempt ?? '-'}${where}, spent ~$${v.spent_usd.toFixed(4)} of $${v.max_cost_usd}, checkpoint ${v.last_checkpoint_step ?? 'none'}, recoveries ${v.recoveries}${v.waiting_for ? `; waiting: ${v.waiting_for}` : ''}`;
}
