import { VastMcpError } from '../server/errors.js';
import { explainRefusal, type ConfirmationKind } from '../server/safety/confirmations.js';
import { askForm, supportsElicitation, type FormField } from './ask-user.js';
import type { ToolContext } from './define-tool.js';

export type Decision =
  | { decision: 'approved'; via: 'elicitation' | 'token'; answers: Record<string, unknown>; payload: unknown }
  | { decision: 'declined'; via: 'elicitation'; action: 'decline' | 'cancel' | 'accept' }
  | { decision: 'needs_confirmation'; token: string; expiresAt: number };

export interface ConfirmRequest {
  kind: ConfirmationKind;
  /** Everything the approval covers: exact arguments and quoted prices. */
  bound: unknown;
  token: string | undefined;
  message: string;
  /** The yes/no field the user must tick, e.g. "confirm" or "approve". */
  yesField: string;
  yesTitle: string;
  extraFields?: Record<string, FormField>;
  /** Kept with the token and handed back when it is used (what the user saw). */
  payload?: unknown;
}

/** Uses up a token issued for exactly `bound`, returning what was kept with it; refuses anything else. */
export function redeemToken(ctx: ToolContext, kind: ConfirmationKind, bound: unknown, token: string): unknown {
  const r = ctx.deps.confirmations.consume(token, kind, bound);
  if (!r.ok) {
    throw new VastMcpError(`Refused: ${explainRefusal(r.reason)} Nothing was done. Call ${kind} again without confirmation_token to get a fresh proposal, show it to the user, and wait for their answer.`, 'confirmation_refused');
  }
  return r.payload;
}

/**
 * The server-side gate for a costly or destructive action: a token previously issued for these exact
 * arguments, else an elicitation form when the client supports it, else a new single-use token.
 */
export async function confirmWithUser(ctx: ToolContext, req: ConfirmRequest): Promise<Decision> {
  if (req.token !== undefined) return { decision: 'approved', via: 'token', answers: {}, payload: redeemToken(ctx, req.kind, req.bound, req.token) };
  if (supportsElicitation(ctx.server)) {
    const fields: Record<string, FormField> = { [req.yesField]: { type: 'boolean', title: req.yesTitle, default: false }, ...(req.extraFields ?? {}) };
    const answer = await askForm(ctx.server, req.message, fields, [req.yesField]);
    if (answer.action !== 'accept' || answer.content[req.yesField] !== true) return { decision: 'declined', via: 'elicitation', action: answer.action };
    return { decision: 'approved', via: 'elicitation', answers: answer.content, payload: req.payload ?? null };
  }
  const issued = ctx.deps.confirmations.issue(req.kind, req.bound, req.payload ?? null);
  return { decision: 'needs_confirmation', token: issued.token, expiresAt: issued.expiresAt };
}
