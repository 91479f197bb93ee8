import { basename, join } from 'node:path';
import { runCopy } from '../copy/run-copy.js';
import { bindingOf } from '../safety/confirmations.js';
import { gateState } from '../safety/destroy-gate.js';
import type { AttemptRow } from '../store/job-store.js';
import type { JobCtx } from './job-context.js';
import type { JobSpec } from './job-spec.js';
import { syncCheckpoint, type SupervisorMemo } from './monitor.js';
import { probeAgent } from './remote-agent.js';

const noProgress = async () => {};
const MAX_OUTPUT_TRIES = 3;

/** The standing teardown approval covers exactly this spec: its outputs, destination and cap. */
export function approvalBinding(spec: JobSpec): string {
  return bindingOf({ kind: 'job_teardown', spec });
}

export function approvalValid(ctx: JobCtx): boolean {
  const ap = ctx.store.approval(ctx.job.id);
  return ap !== null && ap.revoked_at === null && ap.binding === approvalBinding(ctx.spec);
}

/** FINALIZING: the last checkpoint, then every declared output copied off and verified. */
export async function stepFinalize(ctx: JobCtx, memo: SupervisorMemo & { outputTries?: Map<string, number> }): Promise<void> {
  const a = ctx.current();
  const inst = a?.instance_id ? await ctx.deps.vast.getInstance(a.instance_id) : null;
  const wantOutputs = ctx.job.outcome === 'succeeded';
  if (!a || !inst || inst.actual_status !== 'running') {
    if (wantOutputs && !outputsVerified(ctx, a)) {
      ctx.move('awaiting_user', 'the instance is no longer running and the outputs were not all copied; its disk still holds them', {
        waiting_for: 'outputs: start the instance again or decide to discard them',
      });
    } else {
      ctx.move('TEARDOWN', 'nothing left to copy from a running instance');
    }
    return;
  }
  try {
    const probe = await ctx.withSession(inst.id, (s) => probeAgent(s, ctx.spec.checkpoint_dir));
    const newest = probe.checkpoints[probe.checkpoints.length - 1];
    if (newest !== undefined && (ctx.job.checkpoint_step === null || newest > ctx.job.checkpoint_step)) await syncCheckpoint(ctx, a, newest);
    for (const remote of ctx.spec.outputs) {
      try {
        const report = await runCopy(
          ctx.deps,
          { instanceId: inst.id, direction: 'instance_to_local', remotePath: remote, localPath: join(ctx.spec.output_dir, basename(remote)) },
          noProgress,
        );
        for (const f of report.files) {
          ctx.store.recordArtifact(ctx.fence, {
            job_id: ctx.job.id,
            remote_path: f.source,
            destination: f.destination,
            size: f.size,
            sha256: f.sha256,
            attempt: a.n,
            verified_at: ctx.now(),
          });
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
      ctx.update({ waiting_for: `copying outputs: ${(e as Error).message}; retrying` });
      return;
    }
    await ctx.stopInstance(inst.id, 'outputs could not be copied');
    ctx.attempt(a.n, { state: 'stopped', ended_at: ctx.now() });
    ctx.move(
      'awaiting_user',
      `outputs could not be copied and verified after ${MAX_OUTPUT_TRIES} tries (${(e as Error).message}); instance #${inst.id} stopped, its disk still bills and holds the files`,
      { waiting_for: 'outputs: copy them yourself (copy tool) or discard them' },
    );
    return;
  }
  ctx.move(
    'TEARDOWN',
    wantOutputs ? `all ${ctx.spec.outputs.length} output(s) copied and verified` : 'final checkpoint and available outputs copied',
  );
}

function outputsVerified(ctx: JobCtx, a: AttemptRow | null): boolean {
  if (!a) return false;
  const have = ctx.store.artifacts(ctx.job.id).filter((x) => x.attempt === a.n);
  return ctx.spec.outputs.every((o) => have.some((x) => x.remote_path === o || x.remote_path.startsWith(`${o.replace(/\/+$/, '')}/`)));
}

/** TEARDOWN: destroy only with the standing approval AND a verified copy since the instance's last start. */
export async function stepTeardown(ctx: JobCtx): Promise<void> {
  const { deps } = ctx;
  const attempts = ctx.store.attempts(ctx.job.id);
  const last = attempts[attempts.length - 1] ?? null;
  const left: string[] = [];
  for (const a of attempts) {
    if (a.state === 'sent') {
      // A rental may be in flight (cancel during provisioning): find it before deciding anything.
      const hit = (await deps.vast.listInstances()).find((i) => i.label === a.label);
      if (hit) ctx.attempt(a.n, { state: 'rented', instance_id: hit.id });
      else if (a.suspect_since === null || ctx.now() - a.suspect_since < ctx.settings.confirmSeconds) {
        if (a.suspect_since === null) ctx.attempt(a.n, { suspect_since: ctx.now() });
        return;
      } else ctx.attempt(a.n, { state: 'abandoned', ended_at: ctx.now() });
    }
  }
  for (const a of ctx.store.attempts(ctx.job.id)) {
    if (a.instance_id === null || a.state === 'destroyed') continue;
    const inst = await deps.vast.getInstance(a.instance_id);
    if (!inst) {
      ctx.attempt(a.n, { state: 'destroyed', ended_at: a.ended_at ?? ctx.now() });
      continue;
    }
    const isFinal = a.n === last?.n;
    if (ctx.spec.on_end === 'keep' && isFinal) continue;
    let allowed = false;
    let why = '';
    try {
      const copies = gateState(inst, deps.ledger, deps.audit, ctx.now()).copies;
      const outputsOk = !isFinal || ctx.job.outcome !== 'succeeded' || outputsVerified(ctx, a);
      allowed = ctx.spec.on_end === 'destroy' && approvalValid(ctx) && copies.length > 0 && outputsOk;
      why =
        ctx.spec.on_end !== 'destroy'
          ? `on_end is ${ctx.spec.on_end}`
          : !approvalValid(ctx)
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
        ctx.attempt(a.n, { state: 'destroyed', ended_at: a.ended_at ?? ctx.now() });
        continue;
      }
      why = 'destroy was asked but the instance is still listed';
    }
    if (inst.actual_status !== 'stopped' || inst.intended_status !== 'stopped') await ctx.stopInstance(inst.id, why);
    ctx.attempt(a.n, { state: 'stopped', ended_at: a.ended_at ?? ctx.now() });
    if (ctx.spec.on_end === 'destroy') left.push(`#${inst.id} (${why})`);
  }
  ctx.update({ spent_usd: ctx.spent() });
  if (left.length) {
    ctx.move('awaiting_user', `instances stopped, not destroyed: ${left.join(', ')}. Their disks still bill until destroyed.`, {
      waiting_for: `teardown approval: ${left.join(', ')} stopped; disk still billing`,
    });
    return;
  }
  const outcome = ctx.job.outcome ?? 'failed';
  ctx.move(outcome, `teardown done (${ctx.spec.on_end}); spent about $${ctx.spent().toFixed(4)} of the $${ctx.spec.max_cost_usd} cap`, {
    waiting_for: null,
  });
}
