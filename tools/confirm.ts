import { VastMcpError } from '../server/errors.js';
import { explainRefusal, type ConfirmationKind } from '../server/safety/confirmations.js';
import { askForm, elicitationModes, type FormField } from './ask-user.js';
import type { ToolContext } from './define-tool.js';

/** Which channel approved an action; the audit log records it. */
export type ApprovalChannel = 'elicitation' | 'token';

export type Decision =
  | { decision: 'approved'; via: ApprovalChannel; answers: Record<string, unknown>; payload: unknown }
  | { decision: 'declined'; via: 'elicitation'; action: 'decline' | 'cancel' | 'accept' | 'declined_before' }
  | { decision: 'needs_confirmation'; token: string; expiresAt: number; fallbackReason: string | null };

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

function humanChannelRequired(ctx: ToolContext, kind: ConfirmationKind, why: string): VastMcpError {
  return new VastMcpError(
    `Refused: this server is configured to require a human approval channel (VAST_MCP_REQUIRE_HUMAN_APPROVAL), and ${why}. ` +
      `Nothing was done. To approve this ${kind}, use an MCP client that shows elicitation forms to the user (Claude Code, VS Code, Cursor…), ` +
      'or have the person running the server turn the setting off.',
    'human_approval_required',
  );
}

/** Throws when the client cancelled the call: nothing that costs money may follow a cancelled request. */
export function assertNotCancelled(ctx: ToolContext, what: string): void {
  if (ctx.extra.signal?.aborted) throw new VastMcpError(`The call was cancelled by the client before ${what}. Nothing was done.`, 'cancelled');
}

/** Uses up a token issued for exactly `bound`, returning what was kept with it; refuses anything else. */
export function redeemToken(ctx: ToolContext, kind: ConfirmationKind, bound: unknown, token: string): unknown {
  if (ctx.deps.config.requireHumanApproval) throw humanChannelRequired(ctx, kind, 'a confirmation token can be redeemed by the agent itself');
  const r = ctx.deps.confirmations.consume(token, kind, bound);
  if (!r.ok) {
    throw new VastMcpError(`Refused: ${explainRefusal(r.reason)} Nothing was done. Call ${kind} again without confirmation_token to get a fresh proposal, show it to the user, and wait for their answer.`, 'confirmation_refused');
  }
  return r.payload;
}

function issueToken(ctx: ToolContext, req: ConfirmRequest, fallbackReason: string | null): Decision {
  if (ctx.deps.config.requireHumanApproval) throw humanChannelRequired(ctx, req.kind, fallbackReason ?? 'this client does not support elicitation forms');
  const issued = ctx.deps.confirmations.issue(req.kind, req.bound, req.payload ?? null);
  return { decision: 'needs_confirmation', token: issued.token, expiresAt: issued.expiresAt, fallbackReason };
}

/**
 * The server-side gate for a costly or destructive action: a token previously issued for these exact
 * arguments, else an elicitation form when the client supports it, else a new single-use token.
 * `decline` is final for this exact plan. `cancel` (the form was dismissed), a client error, or a client
 * without form support fall back to the token flow, saying why.
 */
export async function confirmWithUser(ctx: ToolContext, req: ConfirmRequest): Promise<Decision> {
  const { confirmations } = ctx.deps;
  if (confirmations.isDeclined(req.kind, req.bound)) return { decision: 'declined', via: 'elicitation', action: 'declined_before' };
  if (req.token !== undefined) return { decision: 'approved', via: 'token', answers: {}, payload: redeemToken(ctx, req.kind, req.bound, req.token) };
  const modes = elicitationModes(ctx.server);
  if (!modes.form) return issueToken(ctx, req, modes.url ? 'this client supports only URL-mode elicitation, not forms' : null);
  const fields: Record<string, FormField> = { [req.yesField]: { type: 'boolean', title: req.yesTitle, default: false }, ...(req.extraFields ?? {}) };
  let answer;
  try {
    answer = await askForm(ctx.server, req.message, fields, [req.yesField], ctx.extra.signal);
  } catch (e) {
    assertNotCancelled(ctx, 'the user answered');
    ctx.deps.logger.warn({ err: (e as Error).message, kind: req.kind }, 'elicitation failed; falling back to a confirmation token');
    return issueToken(ctx, req, `the client could not show the approval form (${(e as Error).message.slice(0, 120)})`);
  }
  assertNotCancelled(ctx, 'acting on the answer');
  if (answer.action === 'cancel') return issueToken(ctx, req, 'the approval form was dismissed without an answer (cancel)');
  if (answer.action !== 'accept' || answer.content[req.yesField] !== true) {
    if (answer.action === 'decline') confirmations.markDeclined(req.kind, req.bound);
    return { decision: 'declined', via: 'elicitation', action: answer.action };
  }
  return { decision: 'approved', via: 'elicitation', answers: answer.content, payload: req.payload ?? null };
}
