import type { ToolContext } from './define-tool.js';
import { waitWithinCall } from './lifecycle-common.js';

export interface StatusWait {
  wait: { outcome: 'running' | 'stopped_or_failed' | 'still_starting' | 'cancelled'; waited_seconds: number };
  note: string;
  nextStep?: string;
}

/**
 * `status` with `wait`: the resumable way on after a create or start whose wait the per-call limit ended. It
 * only reads: waiting again never rents or starts anything. The caller then reads the instance afresh.
 */
export async function waitForStatus(ctx: ToolContext, instanceId: number): Promise<StatusWait> {
  const limit = ctx.deps.config.callSeconds;
  const w = await waitWithinCall(ctx, instanceId, limit);
  const waited_seconds = Math.round(w.result.elapsedMs / 1000);
  switch (w.result.outcome) {
    case 'running':
      return { wait: { outcome: 'running', waited_seconds }, note: `#${instanceId} is running (waited ${waited_seconds} s).` };
    case 'dead':
      return {
        wait: { outcome: 'stopped_or_failed', waited_seconds },
        note: `#${instanceId} will not run as it is: ${w.result.diagnosis?.summary ?? 'see the diagnosis'}`,
        nextStep: 'Tell the user what the diagnosis says; do not wait again. It may still bill (disk at least) until destroyed.',
      };
    case 'cancelled':
      return {
        wait: { outcome: 'cancelled', waited_seconds },
        note: `Waiting for #${instanceId} was cancelled; nothing changed on the instance.`,
      };
    default:
      return {
        wait: { outcome: 'still_starting', waited_seconds },
        note: `#${instanceId} is still starting after ${waited_seconds} s (the per-call limit is ${limit} s).`,
        nextStep: `Call status again with instance_id ${instanceId} and wait: true to keep waiting. It is rented and billing meanwhile; do not create or start it again.`,
      };
  }
}
