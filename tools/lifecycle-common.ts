import { z } from 'zod';
import type { ServerDeps } from '../server/deps.js';
import { diagnose } from '../server/vast/diagnosis.js';
import { instanceBurnPerHour } from '../server/vast/pricing.js';
import type { Instance } from '../server/vast/schemas.js';
import { waitUntilRunning, type WaitResult } from '../server/vast/wait-running.js';
import type { ToolContext } from './define-tool.js';

export const InstanceIdInput = z.number().int().positive().describe('Instance id (from status)');

export const LifecycleOutputSchema = z.object({
  instance_id: z.number(),
  status: z.enum(['done', 'already', 'needs_confirmation', 'declined']),
  actual_status: z.string().nullable(),
  intended_status: z.string().nullable(),
  burn_per_hour: z.object({ total: z.number(), gpu: z.number(), disk: z.number() }).describe('USD/hour billed now'),
  diagnosis: z.string(),
  note: z.string(),
  confirmation_token: z.string().optional(),
  approval_url: z.string().optional().describe('Local approval page the user has open (URL-mode elicitation)'),
  expires_at: z.string().optional(),
});
export type LifecycleOutput = z.infer<typeof LifecycleOutputSchema>;

export function requireInstance(deps: ServerDeps, id: number): Promise<Instance> {
  return deps.vast.requireInstance(id);
}

/**
 * The instance after a mutation the platform accepted. A failed re-read must not turn the answer into an
 * error (the agent would think nothing happened): it falls back to the view from before, saying so.
 */
export async function rereadAfter(deps: ServerDeps, before: Instance): Promise<{ inst: Instance; note: string }> {
  try {
    return { inst: await deps.vast.requireInstance(before.id), note: '' };
  } catch (e) {
    return {
      inst: before,
      note: ` (The change was accepted; re-reading the instance failed: ${(e as Error).message.slice(0, 160)}. Call status to see its state.)`,
    };
  }
}

export function lifecycleResult(
  deps: ServerDeps,
  inst: Instance,
  status: LifecycleOutput['status'],
  note: string,
  extra: Partial<LifecycleOutput> = {},
): { data: LifecycleOutput; text: string } {
  const d = diagnose(inst, deps.now());
  return {
    data: {
      instance_id: inst.id,
      status,
      actual_status: inst.actual_status ?? null,
      intended_status: inst.intended_status ?? null,
      burn_per_hour: instanceBurnPerHour(inst),
      diagnosis: d.summary,
      note,
      ...extra,
    },
    text: `${note}\n#${inst.id}: ${d.summary}`,
  };
}

export interface CallWait {
  result: WaitResult;
  /** Seconds this call waited at most. */
  limitSeconds: number;
  /** True when the per-call limit (not the caller's own deadline) ended the wait. */
  cutByCallLimit: boolean;
}

/**
 * Waits for one instance to run within this call: at most `wantSeconds`, and never past the per-call limit
 * (config.callSeconds, under the ~60 s common clients give a call), sending progress notifications when the
 * client gave a progress token. A client cancel ends it at once (outcome 'cancelled').
 */
export async function waitWithinCall(
  ctx: ToolContext,
  instanceId: number,
  wantSeconds: number,
  callLeftSeconds = ctx.deps.config.callSeconds,
): Promise<CallWait> {
  const { deps } = ctx;
  const limitSeconds = Math.max(0, Math.min(wantSeconds, callLeftSeconds));
  const result = await waitUntilRunning(deps.vast, instanceId, {
    deadlineMs: limitSeconds * 1000,
    minIntervalMs: deps.config.pollMinMs,
    maxIntervalMs: deps.config.pollMaxMs,
    now: deps.monotonicMs,
    sleep: deps.sleep,
    epochNow: deps.now,
    stuckSchedulingMs: 120_000,
    signal: ctx.extra.signal,
    onPoll: async (inst, elapsed) => {
      await ctx
        .progress(
          Math.round(elapsed / 1000),
          limitSeconds,
          `#${instanceId}: ${inst?.actual_status ?? 'provisioning'}${inst?.status_msg ? ` — ${inst.status_msg}` : ''}`,
        )
        .catch(() => undefined);
    },
  });
  return { result, limitSeconds, cutByCallLimit: result.outcome === 'deadline' && callLeftSeconds < wantSeconds };
}

/** The next step after a wait the per-call limit ended: resume on the instance id, never by renting again. */
export function resumeWaitStep(ids: number[]): string {
  const list = ids.map((id) => `instance_id ${id}`).join(', then ');
  return `Still starting; it IS rented and billing. To keep waiting call status with ${list} and wait: true (each call waits up to the per-call limit and can be repeated). Do not call create again for it.`;
}
