/**
 * The promises the jobs campaign checks, as pure functions over what it recorded (ground truth from the
 * simulator, plus what the tools reported). Each returns the violations it found; every count must be 0.
 * Kept pure so a unit test can feed each one a fabricated violating history.
 */

/** One reading of the simulator: every instance that carries a job attempt label. */
export interface InstanceSample {
  id: number;
  job_id: string;
  /** GPU billing: running, or on its way there (created/loading) with the GPUs held. */
  gpu_billing: boolean;
  destroyed: boolean;
}

export interface Sample {
  /** Platform seconds. */
  at: number;
  instances: InstanceSample[];
}

/** An instance fault the campaign injected while a job ran, and where its progress stood on the instance's disk. */
export interface InjectedFault {
  job_id: string;
  instance_id: number;
  /** The job's attempt on that instance. */
  attempt: number;
  kind: string;
  /** The newest complete checkpoint on the instance's disk when the fault hit (0 if none). */
  step_on_disk: number;
  /** The supervisor had been up for at least a sync interval before the fault (its loss is then the supervisor's). */
  supervisor_up: boolean;
}

export interface JobRecord {
  job_id: string;
  steps: number;
  /** Checkpoint every this many steps. */
  every: number;
  /** Steps the trainer makes in one checkpoint sync interval plus one supervisor pass (the allowed lag). */
  sync_lag_steps: number;
  max_cost_usd: number;
  /** USD the job may pass its cap by: one interval's accrual at its attempts' rates. */
  cap_allowance_usd: number;
  approval_granted: boolean;
  /** Last status the tools reported. */
  state: string;
  waiting_for: string | null;
  /** The instance of its current attempt, as job_status reports it. */
  instance_id: number | null;
  /** Ground truth spend (simulator charges of the job's instances) when the job first settled, or at the end. */
  spend_usd: number;
  /** `resumed from … at step N` per attempt number (attempts that started from zero are absent). */
  resumed_at: Record<number, number>;
  /** Attempts whose worker logged at least one training step. */
  started_attempts: number[];
  /** Verified outputs as job_artifacts listed them, and the local file's actual sha256 (null when missing). */
  artifacts: { remote_path: string; sha256: string; size: number; local_sha256: string | null }[];
  /** sha256 of the trainer's known final output for `steps`. */
  expected_sha256: string;
  faults: InjectedFault[];
}

/** An instance the simulator destroyed, with what the gate had: the job's approval and verified copies since its last start. */
export interface DestroyRecord {
  instance_id: number;
  job_id: string | null;
  approval_granted: boolean;
  verified_copies: number;
}

/** A live instance at the end of the campaign. */
export interface LeftInstance {
  id: number;
  job_id: string | null;
  gpu_billing: boolean;
}

export interface JobsHistory {
  samples: Sample[];
  jobs: JobRecord[];
  destroyed: DestroyRecord[];
  left: LeftInstance[];
  /** Where the API key was found on an instance (files, env, onstart). */
  secrets_found: string[];
  /** Overlap of two GPU-billing instances of one job tolerated (platform seconds): the orphan scan's period plus a pass. */
  overlap_grace_seconds: number;
}

export interface JobsInvariantCounts {
  two_attempts_billing_at_once: number;
  instances_left_billing_unaccounted: number;
  progress_lost_beyond_one_checkpoint: number;
  spend_above_cap_beyond_one_interval: number;
  outputs_verified_but_different: number;
  destroys_without_approval_and_verified_copy: number;
  secrets_on_instances: number;
  jobs_not_settled: number;
}

export type Violations = Record<keyof JobsInvariantCounts, string[]>;

const SETTLED = new Set(['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user']);

/** Jobs where two instances billed GPU time together for longer than the grace. */
export function twoAttemptsBilling(h: Pick<JobsHistory, 'samples' | 'overlap_grace_seconds'>): string[] {
  const overlap = new Map<string, number>();
  for (let i = 1; i < h.samples.length; i++) {
    const prev = h.samples[i - 1]!;
    const cur = h.samples[i]!;
    const billingIn = (s: Sample) => {
      const by = new Map<string, Set<number>>();
      for (const x of s.instances) if (x.gpu_billing && !x.destroyed) by.set(x.job_id, (by.get(x.job_id) ?? new Set()).add(x.id));
      return by;
    };
    const a = billingIn(prev);
    for (const [job, ids] of billingIn(cur)) {
      const before = a.get(job);
      if (ids.size < 2 || !before || before.size < 2) continue;
      overlap.set(job, (overlap.get(job) ?? 0) + (cur.at - prev.at));
    }
  }
  return [...overlap]
    .filter(([, s]) => s > h.overlap_grace_seconds)
    .map(([job, s]) => `job ${job}: two instances billed GPU time together for ${Math.round(s)} s`);
}

/** Live instances at the end that bill and that no job or report accounts for. */
export function leftUnaccounted(h: Pick<JobsHistory, 'left' | 'jobs'>): string[] {
  const out: string[] = [];
  for (const i of h.left) {
    const job = h.jobs.find((j) => j.job_id === i.job_id);
    if (!job) {
      out.push(`instance #${i.id} belongs to no job`);
      continue;
    }
    // Nothing is meant to run once a job settled; a stopped disk is fine when the job's status names it to the user
    // (what waits for the user, or the instance of its current attempt while it waits).
    // `#123` names instance 123, not 1234.
    const named = new RegExp(`#${i.id}(?!\\d)`).test(job.waiting_for ?? '') || (job.state === 'awaiting_user' && job.instance_id === i.id);
    if (i.gpu_billing) out.push(`instance #${i.id} of job ${job.job_id} still bills GPU time (job ${job.state})`);
    else if (!named) out.push(`instance #${i.id} of job ${job.job_id} is left (disk billing) but the job does not name it`);
  }
  return out;
}

/** Recoveries that resumed further back than one checkpoint interval plus the sync lag behind what the disk held. */
export function progressLost(h: Pick<JobsHistory, 'jobs'>): string[] {
  const out: string[] = [];
  for (const j of h.jobs) {
    for (const f of j.faults) {
      if (!f.supervisor_up) continue;
      // The next attempt that trained (given-up rentals train nothing). None: cap reached, cancelled, recoveries used up.
      const next = j.started_attempts.filter((n) => n > f.attempt).sort((a, b) => a - b)[0];
      if (next === undefined) continue;
      const resumed = j.resumed_at[next] ?? 0;
      const lost = f.step_on_disk - resumed;
      if (lost > j.every + j.sync_lag_steps)
        out.push(`job ${j.job_id}: ${f.kind} at disk step ${f.step_on_disk}, attempt ${next} resumed at ${resumed} (lost ${lost} steps)`);
    }
  }
  return out;
}

export function spendAboveCap(h: Pick<JobsHistory, 'jobs'>): string[] {
  return h.jobs
    .filter((j) => j.spend_usd > j.max_cost_usd + j.cap_allowance_usd + 1e-9)
    .map((j) => `job ${j.job_id}: spent $${j.spend_usd.toFixed(4)}, cap $${j.max_cost_usd} + one interval $${j.cap_allowance_usd.toFixed(4)}`);
}

export function outputsDiffer(h: Pick<JobsHistory, 'jobs'>): string[] {
  const out: string[] = [];
  for (const j of h.jobs) {
    for (const a of j.artifacts) {
      if (a.sha256 !== j.expected_sha256 || a.local_sha256 !== j.expected_sha256)
        out.push(
          `job ${j.job_id}: ${a.remote_path} reported ${a.sha256.slice(0, 12)}, local ${String(a.local_sha256).slice(0, 12)}, trainer ${j.expected_sha256.slice(0, 12)}`,
        );
    }
    if (j.state === 'succeeded' && j.artifacts.length === 0) out.push(`job ${j.job_id}: succeeded without a verified output`);
  }
  return out;
}

export function destroysUngated(h: Pick<JobsHistory, 'destroyed'>): string[] {
  return h.destroyed
    .filter((d) => !d.approval_granted || d.verified_copies === 0)
    .map(
      (d) =>
        `instance #${d.instance_id} (job ${d.job_id ?? 'none'}) destroyed ${d.approval_granted ? 'without a verified copy' : 'without the approval'}`,
    );
}

export function jobsNotSettled(h: Pick<JobsHistory, 'jobs'>): string[] {
  return h.jobs.filter((j) => !SETTLED.has(j.state)).map((j) => `job ${j.job_id} still ${j.state}: ${j.waiting_for ?? ''}`);
}

export function checkJobsInvariants(h: JobsHistory): Violations {
  return {
    two_attempts_billing_at_once: twoAttemptsBilling(h),
    instances_left_billing_unaccounted: leftUnaccounted(h),
    progress_lost_beyond_one_checkpoint: progressLost(h),
    spend_above_cap_beyond_one_interval: spendAboveCap(h),
    outputs_verified_but_different: outputsDiffer(h),
    destroys_without_approval_and_verified_copy: destroysUngated(h),
    secrets_on_instances: h.secrets_found.map((w) => `API key found: ${w}`),
    jobs_not_settled: jobsNotSettled(h),
  };
}

export function countViolations(v: Violations): JobsInvariantCounts {
  return Object.fromEntries(Object.entries(v).map(([k, list]) => [k, list.length])) as unknown as JobsInvariantCounts;
}
