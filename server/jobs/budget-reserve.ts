import type { JobCtx } from './job-context.js';
import type { SupervisorMemo } from './monitor.js';

/**
 * The cap check of a job, the same before its worker starts and at every pass while it runs: what was spent
 * plus what stopping it still costs. Stopping takes time that still bills: the pass that sends SIGTERM, the
 * grace, the pass that sees the exit, finalize (a final checkpoint copy and one copy per output, each about
 * as long as the last checkpoint copy took) and the teardown pass.
 */

/**
 * Notes that the supervisor looks at a job now (platform seconds), whatever its state: the time between two
 * looks is how long the next one takes to come, which a pass over many jobs (SSH probes, copies) makes far
 * longer than the poll pause. Known from the second look on. The memo is lost on restart, and a restarted
 * supervisor's first look used to reserve three poll pauses: seed s5-jobs started a worker on that, the next
 * look came a 46 s pass later and the job ended past its cap by more than one interval. So at a first look the
 * time since the job was last written (`lastWrite`: every look at a running job writes its spend) stands in
 * for the gap; it includes the time no supervisor ran, which only makes the reserve larger.
 */
/** The longest gap a first look assumes (platform seconds): far beyond any pass seen, short of an outage. */
const MAX_STAND_IN_GAP_S = 15 * 60;

export function noteVisit(memo: SupervisorMemo, jobId: string, now: number, lastWrite?: number): void {
  // The stand-in is bounded: after hours with no supervisor (a laptop asleep) the next look is a pass away, not
  // hours, and a reserve of three outages would stop a job that is far from its cap.
  const standIn = lastWrite === undefined ? undefined : Math.max(lastWrite, now - MAX_STAND_IN_GAP_S);
  const prev = memo.lastPass.get(jobId) ?? standIn;
  memo.lastPass.set(jobId, now);
  if (prev !== undefined && now >= prev) memo.passGap.set(jobId, now - prev);
}

/** The observed time between two looks at the job (platform seconds), at least the poll pause. */
export function passGapSeconds(ctx: JobCtx, memo: SupervisorMemo): number {
  return Math.max(ctx.settings.pollMs / 1000, memo.passGap.get(ctx.job.id) ?? 0);
}

/** USD a stop decided now still costs at `rate` ($/h): three pass gaps, the grace and the final copies. */
export function stopReserveUsd(ctx: JobCtx, memo: SupervisorMemo, rate: number): number {
  const spec = ctx.spec;
  const copies = 1 + spec.outputs.length * Math.max(1, Number(spec.output_dir !== undefined) + Number(spec.output_s3_uri !== undefined));
  const seconds = 3 * passGapSeconds(ctx, memo) + spec.grace_seconds + copies * (memo.syncSeconds.get(ctx.job.id) ?? 0);
  return (rate * seconds) / 3600;
}

/**
 * Spent so far plus the stop reserve reaches the cap: stop now (or do not start), so the cap is passed by at most
 * one interval. `starting` (a rental or a worker start) also wants one more gap: the worker should run until at
 * least one look while it runs, or the start buys nothing but its own stop.
 */
export async function capReached(ctx: JobCtx, memo: SupervisorMemo, rate: number, opts: { starting?: boolean } = {}): Promise<boolean> {
  const minRun = opts.starting ? (rate * passGapSeconds(ctx, memo)) / 3600 : 0;
  return (await ctx.spent()) + stopReserveUsd(ctx, memo, rate) + minRun >= ctx.spec.max_cost_usd;
}
