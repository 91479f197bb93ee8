import type { z } from 'zod';
import type { CreateBase } from './create.js';
import type { RentResult, WaitSummary } from './create-exec.js';
import { resumeWaitStep } from './lifecycle-common.js';
import type { CreateOutputSchema } from './create-schemas.js';
import type { ToolResult } from './define-tool.js';

/**
 * The answer after the platform accepted at least one rental. Whatever went wrong afterwards (a later
 * offer, the wait, the audit log), it names every instance that is rented and billing and what to do next.
 */
export function createdResult(
  base: CreateBase,
  res: RentResult,
  channel: 'elicitation' | 'url' | 'token',
  waited?: WaitSummary,
): ToolResult<z.infer<typeof CreateOutputSchema>> {
  const { rented, duplicates, failure, warnings } = res;
  const lines = rented.map(
    (r) =>
      `#${r.instance_id} "${r.label}" from offer ${r.offer_id} at $${r.total_per_hour.toFixed(4)}/h${r.reconciled ? ' (answer was lost; found by label, not rented twice)' : ''}${r.replaced_offer_id ? ` (offer ${r.replaced_offer_id} was taken meanwhile; replaced by this one on another machine, within 10% of the confirmed price)` : ''}${r.state ? ` — ${r.state}` : ''}${r.diagnosis ? `. ${r.diagnosis}` : ''}`,
  );
  const all = [...rented.map((r) => r.instance_id), ...duplicates];
  const parts = [`RENTED AND BILLING: ${all.map((id) => `#${id}`).join(', ')}.`];
  if (lines.length) parts.push(lines.join('\n'));
  if (duplicates.length) {
    parts.push(
      `DUPLICATE RENTAL: the platform committed an earlier attempt late, so ${duplicates.map((id) => `#${id}`).join(', ')} ${duplicates.length > 1 ? 'were' : 'was'} rented as well. The server stopped ${duplicates.length > 1 ? 'them' : 'it'} (the disk keeps billing). Ask the user whether to destroy ${duplicates.length > 1 ? 'them' : 'it'}.`,
    );
  }
  if (failure) parts.push(`Not everything requested was rented: ${failure.message}`);
  parts.push(...warnings);
  const resume = waited?.stillStarting.length ? ` ${resumeWaitStep(waited.stillStarting)}` : '';
  const next =
    failure || duplicates.length
      ? `Tell the user exactly which instances are rented and billing (${all.map((id) => `#${id}`).join(', ')}). Do NOT call create again for the same request; call status to check them, and ask the user what to do with any extra or missing instance.${resume}`
      : `Billing has started (disk now, GPU once running). Tell the user; call status to follow the instance. Stopping does not stop disk billing; only destroy does, after copying results off.${resume}`;
  parts.push(next);
  const total = Math.round(rented.reduce((s, r) => s + r.total_per_hour, 0) * 10000) / 10000;
  return {
    data: {
      status: failure ? 'partially_created' : 'created',
      ...base,
      total_per_hour: total,
      instances: rented,
      billing_started: true,
      next_step: next,
      duplicates,
      warnings: failure ? [failure.message, ...warnings] : warnings,
      approval_channel: channel,
    },
    text: `Rented ${rented.length} instance(s):\n${parts.join('\n')}\nStopping does not stop disk billing; only destroy does, after copying results off.`,
  };
}
