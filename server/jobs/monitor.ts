import { join } from 'node:path';
import { runCopy } from '../copy/run-copy.js';
import type { AttemptRow } from '../store/job-store.js';
import type { Instance } from '../vast/schemas.js';
import type { JobCtx } from './job-context.js';
import { capReached } from './budget-reserve.js';
import { oneAtATime, type OneAtATime } from './step-pool.js';
import { completeLines, probeAgent, readAgentLogs, terminateAgent, type AgentProbe } from './remote-agent.js';

/** How often the worker agent ticks its heartbeat (seconds of the instance's own clock). */
export const HEARTBEAT_SECONDS = 5;

/** What one supervisor process remembers between passes (platform seconds); lost on restart, which only delays. */
export interface SupervisorMemo {
  /** The last heartbeat counter seen per job attempt (`job#n`), and when it last moved (platform seconds, and real ms). */
  heartbeat: Map<string, { value: number; at: number; atMs: number }>;
  /** When a checkpoint was last copied off, per job. */
  lastSync: Map<string, number>;
  /** When SIGTERM was sent, per job. */
  termSentAt: Map<string, number>;
  /** When the job was last looked at (any active state), and the observed gap between the last two looks. */
  lastPass: Map<string, number>;
  passGap: Map<string, number>;
  /** How long the last checkpoint copy took (platform seconds), per job: the final one before a stop takes about as long. */
  syncSeconds: Map<string, number>;
  /** Rentals take turns: jobs stepped at once would pick the same best offer from the same search. */
  rentTurn: OneAtATime;
  /** The account's instance listing, read at most once per pass (orphan scan, teardowns); set by each pass. */
  passListing?: () => Promise<Instance[]>;
}

export function newMemo(): SupervisorMemo {
  return {
    heartbeat: new Map(),
    lastSync: new Map(),
    termSentAt: new Map(),
    lastPass: new Map(),
    passGap: new Map(),
    syncSeconds: new Map(),
    rentTurn: oneAtATime(),
  };
}

const noProgress = async () => {};
const stepName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/** Copies a complete checkpoint off the instance (verified) into the job's directory and records it. */
export async function syncCheckpoint(ctx: JobCtx, a: AttemptRow, step: number): Promise<void> {
  const name = stepName(step);
  await runCopy(
    ctx.jobDeps(),
    {
      instanceId: a.instance_id!,
      direction: 'instance_to_local',
      remotePath: `${ctx.spec.checkpoint_dir}/${name}`,
      localPath: join('checkpoints', name),
    },
    noProgress,
  );
  await ctx.update({ checkpoint_step: step, checkpoint_path: join(ctx.dir, 'checkpoints', name) });
  await ctx.store.appendLogs(ctx.fence, ctx.job.id, a.n, ctx.now(), [
    `[supervisor] checkpoint ${name} copied off instance #${a.instance_id} and verified`,
  ]);
}

/** Pulls new log lines into the store, so they outlive the instance. */
export async function pullLogs(ctx: JobCtx, a: AttemptRow, read: (offset: number) => Promise<Buffer>): Promise<void> {
  const buf = await read(a.log_offset);
  const { lines, consumed } = completeLines(buf);
  if (!consumed) return;
  await ctx.store.appendLogs(ctx.fence, ctx.job.id, a.n, ctx.now(), lines);
  await ctx.attempt(a.n, { log_offset: a.log_offset + consumed });
}

/** First reading of a loss: remembered. Second one, far enough apart: confirmed. */
export async function confirmLoss(ctx: JobCtx, a: AttemptRow): Promise<boolean> {
  if (a.suspect_since === null) {
    await ctx.attempt(a.n, { suspect_since: ctx.now() });
    return false;
  }
  return ctx.now() - a.suspect_since >= ctx.settings.confirmSeconds;
}

async function recover(ctx: JobCtx, a: AttemptRow, why: string): Promise<void> {
  // The old attempt is stopped, never destroyed here: teardown decides with the approval and the ledger.
  await ctx.stopInstance(a.instance_id!, why);
  await ctx.attempt(a.n, { state: 'lost', ended_at: ctx.now() });
  await ctx.move(
    'RECOVERING',
    `${why}; attempt ${a.n} on instance #${a.instance_id} stopped; last verified checkpoint: ${ctx.job.checkpoint_step ?? 'none'}`,
    { recoveries: ctx.job.recoveries + 1 },
  );
}

/** One pass of RUNNING: platform fields, heartbeat, logs, checkpoints, budget, cancel, exit. */
export async function stepRunning(ctx: JobCtx, memo: SupervisorMemo): Promise<void> {
  const a = (await ctx.current())!;
  const spec = ctx.spec;
  const inst = await ctx.deps.vast.getInstance(a.instance_id!);
  if (!inst || inst.actual_status !== 'running') {
    const seen = inst ? `${inst.actual_status ?? 'unknown'}${inst.status_msg ? ` (${inst.status_msg})` : ''}` : 'gone';
    if (await confirmLoss(ctx, a)) await recover(ctx, a, `instance #${a.instance_id} is ${seen}, confirmed by a second reading`);
    return;
  }
  let probe: AgentProbe;
  try {
    probe = await ctx.withSession(a.instance_id!, async (s) => {
      const p = await probeAgent(s, spec.checkpoint_dir);
      await pullLogs(ctx, (await ctx.current())!, (off) => readAgentLogs(s, off));
      return p;
    });
  } catch (e) {
    if (await confirmLoss(ctx, a))
      await recover(ctx, a, `instance #${a.instance_id} unreachable over SSH (${(e as Error).message}), confirmed by a second reading`);
    return;
  }
  const now = ctx.now();
  const hb = memo.heartbeat;
  // Per attempt: a new worker counts from 1 again, which must not read as the old one's last value.
  const key = `${ctx.job.id}#${a.n}`;
  const last = hb.get(key);
  const nowMs = ctx.deps.monotonicMs();
  if (probe.heartbeat !== null && (!last || probe.heartbeat !== last.value)) hb.set(key, { value: probe.heartbeat, at: now, atMs: nowMs });
  if (!hb.has(key)) hb.set(key, { value: -1, at: now, atMs: nowMs });
  const hbAge = now - hb.get(key)!.at;
  // The worker ticks every HEARTBEAT_SECONDS of its own (real) time: a counter that has not had several
  // ticks' worth of real time to move is no evidence of death, whatever the platform clock says.
  const realAge = (nowMs - hb.get(key)!.atMs) / 1000;
  const realFloor = Math.min(ctx.settings.heartbeatStaleSeconds, 4 * HEARTBEAT_SECONDS);
  if (probe.exitCode === null && hbAge > ctx.settings.heartbeatStaleSeconds && realAge > realFloor) {
    if (await confirmLoss(ctx, a)) await recover(ctx, a, `worker heartbeat missing for ${Math.round(hbAge)} s`);
    return;
  }
  if ((await ctx.current())!.suspect_since !== null) await ctx.attempt(a.n, { suspect_since: null });
  await ctx.update({ last_heartbeat: hb.get(key)!.value >= 0 ? hb.get(key)!.at : null });

  const newest = probe.checkpoints[probe.checkpoints.length - 1];
  const lastSync = ctx.job.checkpoint_step;
  const syncAt = memo.lastSync.get(ctx.job.id);
  const due = probe.exitCode !== null || syncAt === undefined || now - syncAt >= spec.checkpoint_sync_seconds;
  if (newest !== undefined && (lastSync === null || newest > lastSync) && due) {
    await syncCheckpoint(ctx, (await ctx.current())!, newest);
    memo.lastSync.set(ctx.job.id, now);
    memo.syncSeconds.set(ctx.job.id, Math.max(0, ctx.now() - now));
  }
  await ctx.update({ spent_usd: await ctx.spent() });
  if (probe.exitCode !== null) {
    const outcome = ctx.job.outcome ?? (probe.exitCode === 0 ? 'succeeded' : 'failed');
    await ctx.move('FINALIZING', `command exited with code ${probe.exitCode}${probe.terminated ? ' after SIGTERM' : ''}`, { outcome });
    return;
  }
  if (ctx.job.outcome) {
    // SIGTERM already sent: wait for the worker, but not beyond its grace and a margin.
    const sent = memo.termSentAt.get(ctx.job.id) ?? now;
    memo.termSentAt.set(ctx.job.id, sent);
    if (now - sent > spec.grace_seconds + ctx.settings.exitMarginSeconds)
      await ctx.move('FINALIZING', `worker did not exit within ${spec.grace_seconds} s of SIGTERM`);
    return;
  }
  // Reserve what stopping costs (three observed pass gaps, the grace, the final copies), so the cap is passed
  // by at most one interval even when the machine is slow (server/jobs/budget-reserve.ts).
  const stopFor = ctx.job.cancel_requested ? 'cancelled' : (await capReached(ctx, memo, a.price_per_hour ?? 0)) ? 'budget_exhausted' : null;
  if (stopFor) {
    await ctx.withSession(a.instance_id!, terminateAgent);
    memo.termSentAt.set(ctx.job.id, now);
    await ctx.update({
      outcome: stopFor,
      waiting_for: `SIGTERM sent (${stopFor === 'cancelled' ? 'cancel' : `budget cap $${spec.max_cost_usd} reached`}); waiting up to ${spec.grace_seconds} s for a final checkpoint`,
    });
    await ctx.store.appendLogs(ctx.fence, ctx.job.id, a.n, now, [`[supervisor] SIGTERM sent to the worker: ${stopFor}`]);
  }
}
