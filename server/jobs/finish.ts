import { basename, join, resolve } from 'node:path';
import { runCopy, type CopyRequest } from '../copy/run-copy.js';
import { jobCopyBaseShared } from '../identity/job-access.js';
import { bindingOf } from '../safety/confirmations.js';
import { gateState } from '../safety/destroy-gate.js';
import type { AttemptRow } from '../store/job-store.js';
import type { Instance } from '../vast/schemas.js';
import type { JobCtx } from './job-context.js';
import type { JobSpec } from './job-spec.js';
import { syncCheckpoint, type SupervisorMemo } from './monitor.js';
import { takeOrphan, unrecordedRentals } from './orphan-scan.js';
import { probeAgent } from './remote-agent.js';

const noProgress = async () => {};
const MAX_OUTPUT_TRIES = 3;

/** The standing teardown approval covers exactly this spec: its outputs, destination and cap. */
export function approvalBinding(spec: JobSpec): string {
  return bindingOf({ kind: 'job_teardown', spec });
}

export async function approvalValid(ctx: JobCtx): Promise<boolean> {
  const ap = await ctx.store.approval(ctx.job.id);
  return ap !== null && ap.revoked_at === null && ap.binding === approvalBinding(ctx.spec);
}

/** FINALIZING: the last checkpoint, then every declared output copied off and verified. */
export async function stepFinalize(ctx: JobCtx, memo: SupervisorMemo & { outputTries?: Map<string, number> }): Promise<void> {
  const a = await ctx.current();
  const inst = a?.instance_id ? await ctx.deps.vast.getInstance(a.instance_id) : null;
  const wantOutputs = ctx.job.outcome === 'succeeded';
  if (!a || !inst || inst.actual_status !== 'running') {
    if (wantOutputs && !(await outputsVerified(ctx, a))) {
      await ctx.move('awaiting_user', 'the instance is no longer running and the outputs were not all copied; its disk still holds them', {
        waiting_for: `outputs: start the instance again or decide to discard them${await alsoHeld(ctx, a)}`,
      });
    } else {
      await ctx.move('TEARDOWN', 'nothing left to copy from a running instance');
    }
    return;
  }
  try {
    const probe = await ctx.withSession(inst.id, (s) => probeAgent(s, ctx.spec.checkpoint_dir));
    const newest = probe.checkpoints[probe.checkpoints.length - 1];
    if (newest !== undefined && (ctx.job.checkpoint_step === null || newest > ctx.job.checkpoint_step)) await syncCheckpoint(ctx, a, newest);
    // The submitter's folder, whichever replica took the submit; unknown (the shared audit log out of reach): retried.
    const base = ctx.spec.outputs.length ? resolve(ctx.deps.config.copyRoot, await jobCopyBaseShared(ctx.deps, ctx.job.id)) : '';
    for (const remote of ctx.spec.outputs) {
      try {
        for (const req of outputCopies(ctx.spec, inst.id, remote, base)) {
          const report = await runCopy(ctx.deps, req, noProgress);
          for (const f of report.files) {
            await ctx.store.recordArtifact(ctx.fence, {
              job_id: ctx.job.id,
              remote_path: f.source,
              destination: f.destination,
              size: f.size,
              sha256: f.sha256,
              attempt: a.n,
              verified_at: ctx.now(),
            });
          }
        }
      } catch (e) {
        if (wantOutputs) throw e;
        // A cancelled or stopped run may not have produced every output: what exists was copied.
      }
    }
  } catch (e) {
    const tries = (memo.outputTries ??= new Map()).get(ctx.job.id) ?? 0;
    memo.outputTries.set(ctx.job.id, tries + 1);
    if (tries + 1 < MAX_OUTPUT_TRIES) {
      await ctx.update({ waiting_for: `copying outputs: ${(e as Error).message}; retrying` });
      return;
    }
    await ctx.stopInstance(inst.id, 'outputs could not be copied');
    await ctx.attempt(a.n, { state: 'stopped', ended_at: ctx.now() });
    await ctx.move(
      'awaiting_user',
      `outputs could not be copied and verified after ${MAX_OUTPUT_TRIES} tries (${(e as Error).message}); instance #${inst.id} stopped, its disk still bills and holds the files`,
      { waiting_for: `outputs: copy them yourself (copy tool) or discard them${await alsoHeld(ctx, a)}` },
    );
    return;
  }
  await ctx.move(
    'TEARDOWN',
    wantOutputs ? `all ${ctx.spec.outputs.length} output(s) copied and verified` : 'final checkpoint and available outputs copied',
  );
}

/**
 * The job's other rentals not yet torn down (earlier attempts stopped by a recovery): a job that waits on its
 * outputs names them too, since their disks bill as well and teardown, which would list them, has not run.
 */
async function alsoHeld(ctx: JobCtx, current: AttemptRow | null): Promise<string> {
  const held = (await ctx.store.attempts(ctx.job.id))
    .filter((x) => x.instance_id !== null && x.n !== current?.n && x.state !== 'destroyed' && x.instance_id !== current?.instance_id)
    .map((x) => `#${x.instance_id}`);
  return held.length ? `; also held, stopped with disk billing: ${held.join(', ')} (earlier attempts)` : '';
}

/**
 * Stops an instance that is not stopped yet. A stop the platform refused or never answered, on an instance it
 * still means to run, is retried on the next pass: nothing is reported stopped that may still bill GPU time.
 */
async function stopOrRetry(ctx: JobCtx, inst: Instance, why: string): Promise<void> {
  // Stopping or stopped already (by us or by the platform): asking again would only add a stop record, which the
  // destroy gate reads as a new run, so the copies made since the real last start would stop counting.
  if (inst.intended_status === 'stopped') return;
  if (!(await ctx.stopInstance(inst.id, why))) throw new Error(`could not stop instance #${inst.id}; retrying the teardown`);
}

/** Where one output goes: the local output directory and/or the S3 prefix, each a verified copy of its own. */
function outputCopies(spec: JobSpec, instanceId: number, remote: string, base: string): CopyRequest[] {
  const name = basename(remote.replace(/\/+$/, ''));
  const out: CopyRequest[] = [];
  if (spec.output_dir !== undefined)
    out.push({ instanceId, direction: 'instance_to_local', remotePath: remote, localPath: join(resolve(base, spec.output_dir), name) });
  if (spec.output_s3_uri !== undefined)
    out.push({ instanceId, direction: 'instance_to_s3', remotePath: remote, s3Uri: spec.output_s3_uri, s3KeepDirName: true });
  return out;
}

/** Every output verified at every destination the spec names (a local copy alone does not cover an S3 one). */
async function outputsVerified(ctx: JobCtx, a: AttemptRow | null): Promise<boolean> {
  if (!a) return false;
  const have = (await ctx.store.artifacts(ctx.job.id)).filter((x) => x.attempt === a.n);
  const covers = (o: string, s3: boolean) =>
    have.some((x) => x.destination.startsWith('s3://') === s3 && (x.remote_path === o || x.remote_path.startsWith(`${o.replace(/\/+$/, '')}/`)));
  return ctx.spec.outputs.every(
    (o) => (ctx.spec.output_dir === undefined || covers(o, false)) && (ctx.spec.output_s3_uri === undefined || covers(o, true)),
  );
}

/** TEARDOWN: destroy only with the standing approval AND a verified copy since the instance's last start. */
export async function stepTeardown(ctx: JobCtx, memo?: Pick<SupervisorMemo, 'passListing'>): Promise<void> {
  const { deps } = ctx;
  const attempts = await ctx.store.attempts(ctx.job.id);
  const last = attempts[attempts.length - 1] ?? null;
  for (const a of attempts) {
    if (a.state === 'sent') {
      // A rental may be in flight (cancel during provisioning): find it before deciding anything.
      const hit = (await deps.vast.listInstances()).find((i) => i.label === a.label);
      if (hit) await ctx.attempt(a.n, { state: 'rented', instance_id: hit.id });
      else if (a.suspect_since === null || ctx.now() - a.suspect_since < ctx.settings.confirmSeconds) {
        if (a.suspect_since === null) await ctx.attempt(a.n, { suspect_since: ctx.now() });
        return;
      } else await ctx.attempt(a.n, { state: 'abandoned', ended_at: ctx.now() });
    }
  }
  // What stays on the platform: `left` waits for the teardown approval or a verified copy (on_end destroy);
  // `held` is named to the user whatever the job's end (kept or stopped as on_end asks, or never asked for).
  const left: string[] = [];
  const held: string[] = [];
  // Rentals no attempt records (a create that committed late) are taken in hand as the orphan scan does: stopped,
  // logged, and recorded on their attempt when it was given up (then accounted below like any rental). An earlier
  // try of an attempt that has its own instance is recorded nowhere: it is named here.
  const listing = memo?.passListing ? await memo.passListing() : await deps.vast.listInstances();
  for (const { inst: listed, attempt } of unrecordedRentals(listing, await ctx.store.attempts(ctx.job.id))) {
    // Read again: the pass's listing predates this pass's orphan scan, which may have stopped it already.
    const inst = await deps.vast.getInstance(listed.id);
    if (!inst) continue;
    const a = (await ctx.store.attempts(ctx.job.id)).find((x) => x.n === attempt)!;
    const f = await takeOrphan(deps, ctx.store, ctx.fence, ctx.job, a, inst);
    if (!f.stopped_now && inst.intended_status !== 'stopped') throw new Error(`could not stop instance #${inst.id}; retrying the teardown`);
    if (a.instance_id !== null) held.push(`#${inst.id} (rented by an earlier try of attempt ${attempt}; stopped, nothing was copied from it)`);
  }
  for (const a of await ctx.store.attempts(ctx.job.id)) {
    if (a.instance_id === null || a.state === 'destroyed') continue;
    const inst = await deps.vast.getInstance(a.instance_id);
    if (!inst) {
      await ctx.attempt(a.n, { state: 'destroyed', ended_at: a.ended_at ?? ctx.now() });
      continue;
    }
    const isFinal = a.n === last?.n;
    if (ctx.spec.on_end === 'keep' && isFinal && inst.intended_status !== 'stopped') {
      held.push(`#${inst.id} (kept as on_end asks; it bills until stopped or destroyed)`);
      continue;
    }
    let allowed = false;
    let why = '';
    try {
      const copies = (await gateState(inst, deps.ledger, deps.audit, ctx.now())).copies;
      const outputsOk = !isFinal || ctx.job.outcome !== 'succeeded' || (await outputsVerified(ctx, a));
      allowed = ctx.spec.on_end === 'destroy' && (await approvalValid(ctx)) && copies.length > 0 && outputsOk;
      why =
        ctx.spec.on_end !== 'destroy'
          ? `on_end is ${ctx.spec.on_end}`
          : !(await approvalValid(ctx))
            ? 'no standing teardown approval (or it was revoked)'
            : copies.length === 0
              ? 'no verified copy from it since its last start'
              : 'outputs not all verified';
    } catch (e) {
      // Fail closed: anything unclear about the ledger means no destroy.
      why = `destroy gate could not be checked (${(e as Error).message})`;
    }
    if (allowed) {
      await deps.vast.destroy(inst.id);
      const after = await deps.vast.getInstance(inst.id);
      deps.audit.record({
        tool: 'job',
        action: 'destroy',
        args: { job: ctx.job.id, attempt: a.n },
        result: after ? 'error' : 'ok',
        instance_id: inst.id,
      });
      if (!after) {
        await ctx.attempt(a.n, { state: 'destroyed', ended_at: a.ended_at ?? ctx.now() });
        continue;
      }
      why = 'destroy was asked but the instance is still listed';
    }
    await stopOrRetry(ctx, inst, why);
    await ctx.attempt(a.n, { state: 'stopped', ended_at: a.ended_at ?? ctx.now() });
    (ctx.spec.on_end === 'destroy' ? left : held).push(`#${inst.id} (${why})`);
  }
  await ctx.update({ spent_usd: await ctx.spent() });
  const alsoHeldText = held.length ? `; held, disk still billing: ${held.join(', ')}` : '';
  if (left.length) {
    await ctx.move('awaiting_user', `instances stopped, not destroyed: ${[...left, ...held].join(', ')}. Their disks still bill until destroyed.`, {
      waiting_for: `teardown approval: ${left.join(', ')} stopped; disk still billing${alsoHeldText}`,
    });
    return;
  }
  const outcome = ctx.job.outcome ?? 'failed';
  await ctx.move(outcome, `teardown done (${ctx.spec.on_end}); spent about $${(await ctx.spent()).toFixed(4)} of the $${ctx.spec.max_cost_usd} cap`, {
    waiting_for: held.length ? `held, disk still billing: ${held.join(', ')}. Destroy them (destroy tool) once you are sure.` : null,
  });
}
