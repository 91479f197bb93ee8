import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ServerDeps } from '../deps.js';
import { LeaseLost, type Fence, type JobRow, type JobStore } from '../store/job-store.js';
import { approvalValid, stepFinalize, stepTeardown } from './finish.js';
import { DEFAULT_SETTINGS, JobCtx, type SupervisorSettings } from './job-context.js';
import { stepLaunch } from './launch.js';
import { newMemo, stepRunning, type SupervisorMemo } from './monitor.js';
import { noteVisit } from './budget-reserve.js';
import { scanOrphans } from './orphan-scan.js';
import { isTerminal } from './state-machine.js';
import type { Instance } from '../vast/schemas.js';
import { forEachBounded, STEP_CONCURRENCY } from './step-pool.js';

export const SUPERVISOR_LEASE = 'jobd';

const wallNow = () => Date.now() / 1000;
/** A pass over the jobs slower than this (real ms) is logged. */
const SLOW_PASS_MS = 1000;

/**
 * Drives every active job one step per pass. Restart-safe: each step reads the store and the
 * platform before acting, and every write is fenced by the job's lease, so a paused supervisor that
 * wakes up after losing a job cannot act on it.
 */
export class Supervisor {
  readonly owner: string;
  private readonly memo: SupervisorMemo = newMemo();
  private lock: Fence | null = null;
  private stopping = false;
  /** The jobs being stepped now: their leases are renewed while the steps run (copies can outlast a lease). */
  private readonly stepping = new Set<string>();

  constructor(
    private readonly deps: ServerDeps,
    private readonly store: JobStore,
    readonly settings: SupervisorSettings = DEFAULT_SETTINGS,
    owner?: string,
  ) {
    this.owner = owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  /** One supervisor per account and store: false when another one holds the lock. */
  async acquireLock(): Promise<boolean> {
    this.lock = await this.store.acquireLease(SUPERVISOR_LEASE, this.owner, this.settings.leaseSeconds, wallNow());
    return this.lock !== null;
  }

  async releaseLock(): Promise<void> {
    if (this.lock) await this.store.releaseLease(SUPERVISOR_LEASE, this.lock);
    for (const j of await this.store.listJobs()) {
      const h = await this.store.leaseHolder(`job:${j.id}`, wallNow());
      if (h?.owner === this.owner) await this.store.releaseLease(`job:${j.id}`, { owner: h.owner, epoch: h.epoch });
    }
    this.lock = null;
  }

  stop(): void {
    this.stopping = true;
  }

  /** One pass over the active jobs. Returns how many are still active. */
  async runOnce(): Promise<number> {
    if (this.lock && !(await this.store.acquireLease(SUPERVISOR_LEASE, this.owner, this.settings.leaseSeconds, wallNow()))) {
      throw new LeaseLost(SUPERVISOR_LEASE);
    }
    // One listing per pass at most, shared by the orphan scan and every teardown of the pass (the listing is paced).
    let listing: Promise<Instance[]> | null = null;
    this.memo.passListing = () => (listing ??= this.deps.vast.listInstances());
    await scanOrphans(this.deps, this.store, this.owner, this.settings, this.memo);
    const active = await this.store.listJobs({ active: true });
    // A few jobs at once, each under its own lease: one stepped after another, a pass over 200 jobs waited out
    // every SSH readiness window and copy in turn, and each job's next look (and its cap check) waited with it.
    await forEachBounded(active, this.settings.stepConcurrency ?? STEP_CONCURRENCY, async (job) => {
      if (this.stopping) return;
      const fence = await this.store.acquireLease(`job:${job.id}`, this.owner, this.settings.leaseSeconds, wallNow());
      if (!fence) return;
      this.stepping.add(job.id);
      try {
        await this.step(job, fence);
      } finally {
        this.stepping.delete(job.id);
      }
    });
    return (await this.store.listJobs({ active: true })).length;
  }

  private async step(job: JobRow, fence: Fence): Promise<void> {
    const ctx = new JobCtx(this.deps, this.store, fence, this.settings, job);
    // How long the next look at this job takes to come is part of what its cap must reserve; the job's last write
    // stands in for the previous look when this supervisor has not looked at it yet (budget-reserve.ts).
    noteVisit(this.memo, job.id, ctx.now(), job.updated_at);
    try {
      switch (job.state) {
        case 'SUBMITTED':
          if (job.cancel_requested) await ctx.move('cancelled', 'cancelled before anything was rented', { outcome: 'cancelled' });
          else await ctx.move('PROVISIONING', `looking for an offer (cap $${ctx.spec.max_cost_usd})`);
          return;
        case 'PROVISIONING':
        case 'RECOVERING':
          if (job.cancel_requested) {
            await ctx.move('TEARDOWN', 'cancel requested while provisioning: accounting for any rental in flight', { outcome: 'cancelled' });
            return;
          }
          return await stepLaunch(ctx, this.memo);
        case 'RUNNING':
          return await stepRunning(ctx, this.memo);
        case 'FINALIZING':
          return await stepFinalize(ctx, this.memo);
        case 'TEARDOWN':
          return await stepTeardown(ctx, this.memo);
        case 'awaiting_user':
          if (job.cancel_requested && job.outcome !== 'cancelled') await ctx.update({ outcome: job.outcome ?? 'cancelled' });
          if (job.waiting_for?.includes('no standing teardown approval') && (await approvalValid(ctx)) && ctx.spec.on_end === 'destroy')
            await ctx.move('TEARDOWN', 'standing teardown approval present: retrying teardown');
          return;
        default:
          return;
      }
    } catch (e) {
      if (e instanceof LeaseLost) return;
      this.deps.logger.warn({ job: job.id, state: job.state, err: (e as Error).message }, 'job step failed; retrying next pass');
      // What a waiting or ended job names to the user (stopped disks that bill) stays: the failure is only logged.
      if (ctx.job.state === 'awaiting_user' || isTerminal(ctx.job.state)) return;
      try {
        await ctx.update({ waiting_for: `${job.state.toLowerCase()}: ${(e as Error).message.slice(0, 300)}; retrying` });
      } catch {
        /* lease lost meanwhile */
      }
    }
  }

  /** Renews the lock and the leases of the jobs in hand; losing the lock stops this supervisor. */
  private async renew(): Promise<void> {
    const now = wallNow();
    if (this.lock && !(await this.store.acquireLease(SUPERVISOR_LEASE, this.owner, this.settings.leaseSeconds, now))) {
      this.deps.logger.warn({ owner: this.owner }, 'supervisor lock taken over by another supervisor: stopping');
      this.stopping = true;
    }
    // A job lease that was lost stays lost: the store refuses this supervisor's writes for it (fencing).
    for (const id of [...this.stepping]) await this.store.acquireLease(`job:${id}`, this.owner, this.settings.leaseSeconds, now);
  }

  /** Runs passes until no job is active for `idleExitMs` (real ms) or stop() is called. */
  async run(opts: { idleExitMs?: number } = {}): Promise<void> {
    const timer = setInterval(
      () => {
        this.renew().catch((e: unknown) => this.deps.logger.warn({ err: (e as Error).message }, 'lease renewal failed'));
      },
      Math.max(200, (this.settings.leaseSeconds * 1000) / 3),
    );
    timer.unref();
    try {
      await this.loop(opts);
    } catch (e) {
      if (!(e instanceof LeaseLost)) throw e;
      this.deps.logger.warn({ owner: this.owner }, 'supervisor lock lost: another supervisor drives the jobs now');
    } finally {
      clearInterval(timer);
    }
  }

  private async loop(opts: { idleExitMs?: number }): Promise<void> {
    let idleSince: number | null = null;
    while (!this.stopping) {
      const began = Date.now();
      const active = await this.runOnce();
      const passMs = Date.now() - began;
      // A slow pass delays every job's next look (and its cap check): said, so an operator (and the campaign's
      // cap allowance) can see how long one interval really was.
      if (passMs >= SLOW_PASS_MS) this.deps.logger.info({ pass_ms: passMs, active }, 'slow supervisor pass');
      if (active === 0) {
        idleSince ??= Date.now();
        if (opts.idleExitMs !== undefined && Date.now() - idleSince >= opts.idleExitMs) return;
      } else {
        idleSince = null;
      }
      await this.deps.sleep(this.settings.pollMs);
    }
  }
}
