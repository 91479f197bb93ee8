import { z } from 'zod';
import type { ServerDeps } from '../server/deps.js';
import { diagnose } from '../server/vast/diagnosis.js';
import { instanceBurnPerHour } from '../server/vast/pricing.js';
import type { Instance } from '../server/vast/schemas.js';

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
