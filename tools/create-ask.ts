import type { z } from 'zod';
import type { Plan, Resolved } from '../server/vast/create-plan.js';
import { confirmWithUser, pendingApproval } from './confirm.js';
import type { CreateBase } from './create.js';
import type { CreateOutputSchema } from './create-schemas.js';
import type { ToolContext, ToolResult } from './define-tool.js';

export interface Quoted {
  plan: Plan;
  resolved: Resolved;
}

type Made = { dialog: { message: string; questions: string[]; proposal: CreateBase['proposal'] }; base: CreateBase };

/** Form edits allowed before the server asks the agent to start over (each edit is re-shown with its new total). */
const MAX_EDIT_ROUNDS = 3;

export type AskOutcome =
  | { kind: 'approved'; quoted: Quoted; base: CreateBase; via: 'elicitation' | 'url' | 'token' }
  | { kind: 'result'; result: ToolResult<z.infer<typeof CreateOutputSchema>> };

/**
 * Asks the user about a plan. An edit in the form that changes what is rented or what it costs is never
 * rented directly: the new plan is priced and shown again with its total, until the user accepts a plan
 * exactly as shown (or declines).
 */
export async function askCreate(
  ctx: ToolContext,
  o: { request: unknown; bound: unknown; first: Quoted; make: (q: Quoted) => Made; replan: (r: Resolved) => Promise<Quoted> },
): Promise<AskOutcome> {
  const { deps } = ctx;
  let q = o.first;
  let editNote = '';
  for (let round = 0; ; round++) {
    const { dialog, base } = o.make(q);
    const r = q.resolved;
    // After an edit the approval binds the edited plan too, so a "no" to it is final for it alone.
    const bound =
      round === 0
        ? o.bound
        : {
            ...(o.bound as object),
            edited: { image: r.image, disk_gb: r.disk_gb, count: r.count, offers: q.plan.quote.map((x) => [x.offer_id, x.total_per_hour]) },
          };
    const decision = await confirmWithUser(ctx, {
      kind: 'create',
      bound,
      token: undefined,
      payload: q satisfies Quoted,
      pageBound: { bound, image: r.image, disk_gb: r.disk_gb, count: r.count, offers: q.plan.quote.map((x) => [x.offer_id, x.total_per_hour]) },
      message: editNote + dialog.message,
      yesField: 'confirm',
      yesTitle: `Rent ${r.count} instance(s) for $${q.plan.total_per_hour.toFixed(4)}/h`,
      extraFields: {
        image: { type: 'string', title: 'Docker image (changing it shows the plan again)', default: r.image, maxLength: 1024 },
        disk_gb: {
          type: 'number',
          title: 'Disk (GB, cannot grow later; changing it re-prices the plan)',
          default: r.disk_gb,
          minimum: 8,
          maximum: 100000,
        },
        count: { type: 'integer', title: 'Number of instances (changing it re-prices the plan)', default: r.count, minimum: 1, maximum: 8 },
      },
    });
    if (decision.decision === 'needs_confirmation') {
      deps.audit.record({
        tool: 'create',
        action: 'propose',
        args: o.request,
        result: 'pending',
        detail: { total_per_hour: q.plan.total_per_hour, fallback: decision.fallbackReason },
      });
      const next = `NOTHING WAS RENTED. ${pendingApproval(decision, 'create', 'confirmation_token').instruction} A changed argument or price needs a new proposal.`;
      return {
        kind: 'result',
        result: {
          data: {
            status: 'needs_confirmation',
            ...base,
            questions: dialog.questions,
            ...pendingApproval(decision, 'create', 'confirmation_token').fields,
            instances: [],
            billing_started: false,
            next_step: next,
            duplicates: [],
            warnings: [],
            ...(decision.fallbackReason ? { fallback_reason: decision.fallbackReason } : {}),
          },
          text: `${dialog.message}\n\n${next}`,
        },
      };
    }
    if (decision.decision === 'declined') {
      deps.audit.record({ tool: 'create', action: 'propose', args: o.request, result: 'declined', detail: { action: decision.action } });
      const next = 'The user declined. Nothing was rented. Do not retry this request unless the user asks again.';
      return {
        kind: 'result',
        result: {
          data: { status: 'declined', ...base, instances: [], billing_started: false, next_step: next, duplicates: [], warnings: [] },
          text: next,
        },
      };
    }
    const a = decision.answers;
    const edited = {
      image: typeof a.image === 'string' && a.image.trim() ? a.image.trim() : r.image,
      disk_gb: typeof a.disk_gb === 'number' ? a.disk_gb : r.disk_gb,
      count: typeof a.count === 'number' ? a.count : r.count,
    };
    if (edited.image === r.image && edited.disk_gb === r.disk_gb && edited.count === r.count)
      return { kind: 'approved', quoted: q, base, via: decision.via };
    if (round + 1 >= MAX_EDIT_ROUNDS) {
      const next = `The user changed the plan ${MAX_EDIT_ROUNDS} times without accepting one as shown. Nothing was rented. Call create again with the values the user wants.`;
      return {
        kind: 'result',
        result: {
          data: { status: 'declined', ...base, instances: [], billing_started: false, next_step: next, duplicates: [], warnings: [] },
          text: next,
        },
      };
    }
    const before = q.plan.total_per_hour;
    q = await o.replan({ ...r, ...edited });
    editNote = `You changed the plan (image ${edited.image}, disk ${edited.disk_gb} GB, count ${edited.count}): it now costs $${q.plan.total_per_hour.toFixed(4)}/h instead of $${before.toFixed(4)}/h. Nothing was rented yet; confirm this new plan to rent it.\n\n`;
  }
}
