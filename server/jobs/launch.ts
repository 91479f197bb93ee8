import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { runCopy } from '../copy/run-copy.js';
import { jobCopyBaseShared } from '../identity/job-access.js';
import { settleJobReservation } from '../profiles/job-spend.js';
import { packOnstart } from '../safety/onstart.js';
import { createBody, quoteOffer } from '../vast/create-plan.js';
import { labelBase } from '../vast/labels.js';
import { selectOffers } from '../vast/offer-selection.js';
import { rentReconciled } from '../vast/rent.js';
import type { AttemptRow } from '../store/job-store.js';
import { capReached } from './budget-reserve.js';
import type { JobCtx } from './job-context.js';
import { placeInputs } from './job-inputs.js';
import { jobResolved } from './plan.js';
import { InputChanged } from './s3-inputs.js';
import { sendGo } from './remote-agent.js';
import { agentOnstart } from './worker-agent.js';
import { confirmLoss, HEARTBEAT_SECONDS, type SupervisorMemo } from './monitor.js';

const DEAD = new Set(['lost', 'stopped', 'destroyed', 'abandoned']);
const noProgress = async () => {};

/** Unique per attempt and recognisable: `<account>-job-<id>-a<n>-<random>`. */
function attemptLabel(base: string, jobId: string, n: number): string {
  return `${base}-job-${jobId}-a${n}-${randomBytes(3).toString('hex')}`;
}

/** Rents a new attempt: written as an intent first, marked sent before the request, recorded after. */
async function rentAttempt(ctx: JobCtx, memo: SupervisorMemo): Promise<void> {
  const { deps } = ctx;
  const spec = ctx.spec;
  const excluded = new Set((await ctx.store.attempts(ctx.job.id)).map((a) => a.machine_id).filter((m): m is number => m !== null));
  const resolved = jobResolved(deps, spec);
  const selection = await selectOffers(
    deps.vast,
    { ...resolved.filters, disk_gb: resolved.disk_gb, interruptible: resolved.interruptible },
    8,
    false,
  );
  const offer = [...selection.chosen, ...selection.spares].find((o) => !excluded.has(o.machine_id));
  if (!offer) {
    await ctx.update({ waiting_for: `no offer matches the job's filter on a machine it has not used yet (${excluded.size} excluded); retrying` });
    return;
  }
  const quote = quoteOffer(offer, resolved);
  // The cap is checked before every launch, with the rule the worker's start uses (budget-reserve.ts): a rental
  // with room for one poll pause only billed through its provisioning and was then refused its start.
  if (await capReached(ctx, memo, quote.total_per_hour, { starting: true })) {
    await ctx.move(
      'TEARDOWN',
      `budget: spent $${(await ctx.spent()).toFixed(4)} of the $${spec.max_cost_usd} cap; no room for another launch at $${quote.total_per_hour.toFixed(4)}/h and its stop`,
      { outcome: 'budget_exhausted' },
    );
    return;
  }
  const base = labelBase(await deps.vast.currentUser().catch(() => null));
  const n = (await ctx.store.attempts(ctx.job.id)).length + 1;
  const label = attemptLabel(base, ctx.job.id, n);
  const a = await ctx.store.addAttempt(ctx.fence, {
    job_id: ctx.job.id,
    label,
    state: 'intent',
    offer_id: offer.id,
    machine_id: offer.machine_id,
    instance_id: null,
    price_per_hour: quote.total_per_hour,
  });
  const onstart = packOnstart(
    agentOnstart({
      command: spec.command,
      checkpointDir: spec.checkpoint_dir,
      graceSeconds: spec.grace_seconds,
      heartbeatSeconds: HEARTBEAT_SECONDS,
    }),
  ).onstart;
  const body = createBody(offer, resolved, quote, { label, env: spec.env, onstart });
  await ctx.attempt(a.n, { state: 'sent', started_at: ctx.now() });
  try {
    const r = await rentReconciled(deps.vast, offer.id, body, { logger: deps.logger, sleep: deps.sleep, windowMs: deps.config.createCommitWindowMs });
    await ctx.attempt(a.n, { state: 'rented', instance_id: r.instanceId });
    await recordRent(ctx, { offerId: offer.id, label, instanceId: r.instanceId, perHour: quote.total_per_hour }, { reconciled: r.reconciled });
    await ctx.update({ waiting_for: null });
  } catch (e) {
    deps.audit.record({
      tool: 'job',
      action: 'rent',
      args: { job: ctx.job.id, offer_id: offer.id, label },
      result: 'error',
      detail: { error: (e as Error).message },
    });
    // Left as 'sent': the next pass looks for the label before anything else is rented.
    await ctx.update({ waiting_for: `rental of offer ${offer.id} failed or its answer was lost (${(e as Error).message}); reconciling by label` });
  }
}

/** The audit record of a job's rental, however it was learnt: budgets and ownership read rentals from it. */
async function recordRent(
  ctx: JobCtx,
  r: { offerId: number | null; label: string; instanceId: number; perHour: number | null },
  how: Record<string, boolean>,
): Promise<void> {
  ctx.deps.audit.record({
    tool: 'job',
    action: 'rent',
    args: { job: ctx.job.id, offer_id: r.offerId, label: r.label },
    result: 'ok',
    instance_id: r.instanceId,
    detail: { ...how, total_per_hour: r.perHour },
  });
  // What the instance charges now pays off the budget its submit reserved.
  await settleJobReservation(ctx.deps, ctx.job.id, { rented: r.instanceId });
}

/** A rental whose answer never arrived: found by its label, or given up after two readings apart. */
async function reconcileSent(ctx: JobCtx, a: AttemptRow): Promise<void> {
  const hit = (await ctx.deps.vast.listInstances()).find((i) => i.label === a.label);
  if (hit) {
    await ctx.attempt(a.n, { state: 'rented', instance_id: hit.id, suspect_since: null });
    await recordRent(
      ctx,
      { offerId: a.offer_id, label: a.label, instanceId: hit.id, perHour: a.price_per_hour },
      { reconciled: true, found_later: true },
    );
    return;
  }
  if (a.suspect_since === null) {
    await ctx.attempt(a.n, { suspect_since: ctx.now() });
  } else if (ctx.now() - a.suspect_since >= ctx.settings.confirmSeconds) {
    await ctx.attempt(a.n, { state: 'abandoned', ended_at: ctx.now() });
  }
}

/**
 * The rental billed while it provisioned (image pull, loading, a slow pass): before the worker starts, the
 * cap must still leave room for its stop and a run until the first look while it runs (budget-reserve.ts).
 */
async function budgetGone(ctx: JobCtx, a: AttemptRow, memo: SupervisorMemo): Promise<boolean> {
  if (!(await capReached(ctx, memo, a.price_per_hour ?? 0, { starting: true }))) return false;
  await ctx.move(
    'TEARDOWN',
    `budget: spent $${(await ctx.spent()).toFixed(4)} of the $${ctx.spec.max_cost_usd} cap while instance #${a.instance_id} provisioned; no room left to run the command and stop it`,
    { outcome: 'budget_exhausted', waiting_for: null },
  );
  return true;
}

/** Inputs, then the last verified checkpoint, each copied and verified; then the worker may start. */
async function prepare(ctx: JobCtx, a: AttemptRow, memo: SupervisorMemo): Promise<void> {
  const instanceId = a.instance_id!;
  const spec = ctx.spec;
  if (await budgetGone(ctx, a, memo)) return;
  // Inputs live in the submitter's folder, whichever replica took the submit: read every replica's records
  // first (input staging reads them synchronously, from this read) and stop here when they cannot be read.
  if (spec.inputs.length) await jobCopyBaseShared(ctx.deps, ctx.job.id);
  await placeInputs(ctx, instanceId);
  const step = ctx.job.checkpoint_step;
  let resumed = '';
  if (step !== null && ctx.job.checkpoint_path) {
    const name = `step-${String(step).padStart(6, '0')}`;
    await runCopy(
      ctx.jobDeps(),
      {
        instanceId,
        direction: 'local_to_instance',
        localPath: relative(ctx.dir, ctx.job.checkpoint_path),
        remotePath: `${spec.checkpoint_dir}/${name}`,
      },
      noProgress,
    );
    resumed = ` from checkpoint step ${step} (restored and verified)`;
  }
  // The copies took time that billed too.
  if (await budgetGone(ctx, a, memo)) return;
  await ctx.withSession(instanceId, sendGo);
  await ctx.attempt(a.n, { state: 'running', suspect_since: null });
  await ctx.move('RUNNING', `attempt ${a.n} running on instance #${instanceId} (machine ${a.machine_id})${resumed}`, { waiting_for: null });
}

/** One pass of PROVISIONING or RECOVERING. */
export async function stepLaunch(ctx: JobCtx, memo: SupervisorMemo): Promise<void> {
  const a = await ctx.current();
  if (!a || DEAD.has(a.state)) {
    if (ctx.job.recoveries > ctx.spec.max_recoveries) {
      await ctx.move('TEARDOWN', `gave up after ${ctx.job.recoveries - 1} recoveries (max ${ctx.spec.max_recoveries})`, { outcome: 'failed' });
      return;
    }
    // The offer search and the rental happen in one turn, so the next job's search sees this rental.
    await memo.rentTurn(() => rentAttempt(ctx, memo));
    return;
  }
  if (a.state === 'intent') {
    // Never sent (the supervisor stopped between writing the intent and sending it).
    await ctx.attempt(a.n, { state: 'abandoned', ended_at: ctx.now() });
    return;
  }
  if (a.state === 'sent') return reconcileSent(ctx, a);
  const inst = await ctx.deps.vast.getInstance(a.instance_id!);
  if (!inst) {
    await ctx.attempt(a.n, { state: 'destroyed', ended_at: ctx.now() });
    await ctx.update({ recoveries: ctx.job.recoveries + 1 });
    return;
  }
  if (inst.actual_status === 'running') {
    try {
      await prepare(ctx, a, memo);
    } catch (e) {
      // What submit pinned is gone: no retry or other machine can bring it back.
      if (e instanceof InputChanged) {
        await ctx.move('TEARDOWN', e.message, { outcome: 'failed', waiting_for: null });
        return;
      }
      await ctx.update({ waiting_for: `preparing instance #${inst.id}: ${(e as Error).message}; retrying` });
    }
    return;
  }
  const late = ctx.now() - (a.started_at ?? ctx.now()) > ctx.settings.provisionDeadlineSeconds;
  // Stopped before it ever ran (an interruptible rental outbid while loading: dstack's outbid row has
  // intended_status stopped too, the docs' reading resumes later): given up once a second reading agrees.
  const stopped = inst.actual_status === 'stopped' || inst.intended_status === 'stopped';
  if (stopped && !late && !(await confirmLoss(ctx, a))) return;
  if (late || stopped || inst.actual_status === 'exited' || inst.actual_status === 'offline') {
    await ctx.stopInstance(inst.id, late ? 'provisioning deadline passed' : `instance ${inst.actual_status}`);
    await ctx.attempt(a.n, { state: 'stopped', ended_at: ctx.now() });
    await ctx.update({ recoveries: ctx.job.recoveries + 1, waiting_for: null });
    if (ctx.job.state === 'PROVISIONING')
      await ctx.move(
        'RECOVERING',
        `instance #${inst.id} did not start (${inst.actual_status ?? 'provisioning'}: ${inst.status_msg ?? ''}); stopped, trying another machine`,
      );
  }
}
