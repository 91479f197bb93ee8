import type { ServerDeps } from '../deps.js';
import { openInstanceSsh } from '../ssh/access.js';
import type { SshSession } from '../ssh/ssh-session.js';
import type { AttemptRow, Fence, JobPatch, JobRow, JobStore } from '../store/job-store.js';
import type { JobSpec } from './job-spec.js';
import { jobDir } from './job-spec.js';
import { isTerminal, type JobState } from './state-machine.js';
import { settleJobReservation } from '../profiles/job-spend.js';
import { dropJobStaging } from './input-staging.js';
import { STEP_CONCURRENCY } from './step-pool.js';

/** Timings of the supervisor. Platform-clock seconds unless said otherwise. */
export interface SupervisorSettings {
  /** Pause between passes over the jobs, real ms. */
  pollMs: number;
  /** A loss is confirmed by a second reading at least this long after the first. */
  confirmSeconds: number;
  /** A heartbeat that has not moved for this long counts as a missing heartbeat. */
  heartbeatStaleSeconds: number;
  /** A rental not running by then is given up (stopped, never destroyed) and replaced. */
  provisionDeadlineSeconds: number;
  /** Lease length, real seconds; renewed every pass. */
  leaseSeconds: number;
  /** SSH readiness window per connection attempt, real ms. */
  sshReadinessMs: number;
  /** Waiting for the worker to exit after SIGTERM beyond its grace, platform seconds. */
  exitMarginSeconds: number;
  /** Jobs stepped at once in a pass (default STEP_CONCURRENCY). */
  stepConcurrency?: number;
}

export const DEFAULT_SETTINGS: SupervisorSettings = {
  pollMs: 15_000,
  confirmSeconds: 60,
  heartbeatStaleSeconds: 180,
  provisionDeadlineSeconds: 1800,
  leaseSeconds: 120,
  sshReadinessMs: 20_000,
  exitMarginSeconds: 120,
};

/** Supervisor timings from the environment (VAST_MCP_JOBD_*), for tests and operators; anything unset keeps its default. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): SupervisorSettings & { idleExitMs: number } {
  const num = (name: string, min: number, fallback: number) => {
    const v = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(v) && v >= min ? v : fallback;
  };
  return {
    pollMs: num('VAST_MCP_JOBD_POLL_MS', 10, DEFAULT_SETTINGS.pollMs),
    confirmSeconds: num('VAST_MCP_JOBD_CONFIRM_SECONDS', 1, DEFAULT_SETTINGS.confirmSeconds),
    heartbeatStaleSeconds: num('VAST_MCP_JOBD_HEARTBEAT_STALE_SECONDS', 10, DEFAULT_SETTINGS.heartbeatStaleSeconds),
    provisionDeadlineSeconds: DEFAULT_SETTINGS.provisionDeadlineSeconds,
    leaseSeconds: num('VAST_MCP_JOBD_LEASE_SECONDS', 2, DEFAULT_SETTINGS.leaseSeconds),
    sshReadinessMs: DEFAULT_SETTINGS.sshReadinessMs,
    exitMarginSeconds: DEFAULT_SETTINGS.exitMarginSeconds,
    stepConcurrency: num('VAST_MCP_JOBD_CONCURRENCY', 1, STEP_CONCURRENCY),
    idleExitMs: num('VAST_MCP_JOBD_IDLE_EXIT_SECONDS', 1, 600) * 1000,
  };
}

/** Everything one step of one job needs. The fence goes with every write. */
export class JobCtx {
  constructor(
    readonly deps: ServerDeps,
    readonly store: JobStore,
    readonly fence: Fence,
    readonly settings: SupervisorSettings,
    public job: JobRow,
  ) {}

  get spec(): JobSpec {
    return this.job.spec as JobSpec;
  }

  get dir(): string {
    return jobDir(this.deps.config.stateDir, this.job.id);
  }

  now(): number {
    return this.deps.now();
  }

  async current(): Promise<AttemptRow | null> {
    const all = await this.store.attempts(this.job.id);
    return all[all.length - 1] ?? null;
  }

  async move(to: JobState, reason: string, patch: JobPatch = {}): Promise<void> {
    this.job = await this.store.transition(this.fence, this.job.id, to, reason, this.now(), patch);
    this.deps.logger.info({ job: this.job.id, state: to, reason }, 'job transition');
    // An ended job spends nothing more: its submit's budget reservation stops counting (its rentals' charges still do).
    if (isTerminal(to)) {
      await settleJobReservation(this.deps, this.job.id, 'ended');
      this.dropStagedInputs();
    }
  }

  private dropStagedInputs(): void {
    if (!this.spec.inputs.some((i) => i.s3_uri !== undefined)) return;
    try {
      dropJobStaging(this.deps, this.job.id);
    } catch (e) {
      this.deps.logger.warn({ job: this.job.id, err: (e as Error).message }, 'could not remove staged inputs');
    }
  }

  async update(patch: JobPatch): Promise<void> {
    this.job = await this.store.updateJob(this.fence, this.job.id, patch, this.now());
  }

  attempt(n: number, patch: Parameters<JobStore['updateAttempt']>[3]): Promise<AttemptRow> {
    return this.store.updateAttempt(this.fence, this.job.id, n, patch);
  }

  /**
   * Stops an instance and records the stop with its epoch in the audit log, where the destroy gate reads
   * it: copies made while it ran count only when a stop by this server bounds the disk.
   */
  async stopInstance(instanceId: number, why: string): Promise<boolean> {
    try {
      await this.deps.vast.setState(instanceId, 'stopped');
    } catch (e) {
      this.deps.logger.warn({ job: this.job.id, instanceId, err: (e as Error).message }, 'could not stop an instance');
      return false;
    }
    this.deps.audit.record({
      tool: 'job',
      action: 'stop',
      args: { job: this.job.id, why },
      result: 'ok',
      instance_id: instanceId,
      detail: { epoch: this.now() },
    });
    return true;
  }

  /** Spend so far (conservative: the quoted $/h, disk included, for every hour an attempt was held). */
  async spent(): Promise<number> {
    const now = this.now();
    let total = 0;
    for (const a of await this.store.attempts(this.job.id)) {
      if (a.started_at === null || a.price_per_hour === null) continue;
      total += (a.price_per_hour * Math.max(0, (a.ended_at ?? now) - a.started_at)) / 3600;
    }
    return Math.round(total * 1e6) / 1e6;
  }

  /** Deps whose copy root is this job's own directory (checkpoints live there). */
  jobDeps(): ServerDeps {
    return { ...this.deps, config: { ...this.deps.config, copyRoot: this.dir } };
  }

  async withSession<T>(instanceId: number, fn: (s: SshSession) => Promise<T>): Promise<T> {
    const access = await openInstanceSsh(this.deps, instanceId, { attachKey: true, readinessMs: this.settings.sshReadinessMs });
    try {
      return await fn(access.session);
    } finally {
      access.session.end();
    }
  }
}
