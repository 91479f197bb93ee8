import { VastMcpError } from '../server/errors.js';
import { ApprovalPages } from '../server/safety/approval-page.js';
import { bindingOf, CLAIM_LEASE_SECONDS, explainRefusal, type ConfirmationKind } from '../server/safety/confirmations.js';
import { bindCaller, otherUserRefusal, tagToken, untagToken } from '../server/identity/approval-binding.js';
import { callerOf } from '../server/identity/caller.js';
import { askForm, elicitationModes, type FormField } from './ask-user.js';
import type { ToolContext } from './define-tool.js';

/** Which channel approved an action; the audit log records it. */
export type ApprovalChannel = 'elicitation' | 'url' | 'token';

export type Decision =
  | { decision: 'approved'; via: ApprovalChannel; answers: Record<string, unknown>; payload: unknown }
  | { decision: 'declined'; via: 'elicitation' | 'url'; action: 'decline' | 'cancel' | 'accept' | 'declined_before' }
  /** `token` null: the human has an approval page open (`approvalUrl`); the same call, repeated after they approve, proceeds. */
  | { decision: 'needs_confirmation'; token: string | null; expiresAt: number; fallbackReason: string | null; approvalUrl?: string };

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
  /**
   * What an approval page binds to when it differs from `bound`: e.g. the quoted offers and prices, since
   * the call repeated after the human approved re-quotes, and a moved price must not pass.
   */
  pageBound?: unknown;
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
export async function redeemToken(ctx: ToolContext, kind: ConfirmationKind, bound: unknown, token: string): Promise<unknown> {
  const held = await claimToken(ctx, kind, bound, token);
  await held.commit();
  return held.payload;
}

/**
 * Claims a token issued for exactly `bound`: `commit()` uses it up and must come right before the platform
 * request (it throws when the claim was lost, then nothing may be sent). A call that refuses between the
 * two (a changed price, a cap) must use the token up itself, as create does: a refused token is never tried
 * again. Only a call that dies leaves it claimed, and claimable again once its lease ran out.
 */
export async function claimToken(
  ctx: ToolContext,
  kind: ConfirmationKind,
  bound: unknown,
  token: string,
): Promise<{ payload: unknown; commit: () => Promise<void> }> {
  if (ctx.deps.config.requireHumanApproval) throw humanChannelRequired(ctx, kind, 'a confirmation token can be redeemed by the agent itself');
  const caller = callerOf(ctx.extra.authInfo);
  const presented = untagToken(token, caller);
  const r = await ctx.deps.confirmations.claim(presented.token, kind, bindCaller(bound, caller));
  if (!presented.sameUser) {
    if (r.ok) await r.commit();
    throw new VastMcpError(otherUserRefusal(kind, caller), 'confirmation_refused');
  }
  if (!r.ok) {
    const next =
      r.reason === 'in_use'
        ? ''
        : ` Call ${kind} again without confirmation_token to get a fresh proposal, show it to the user, and wait for their answer.`;
    throw new VastMcpError(`Refused: ${explainRefusal(r)} Nothing was done.${next}`, 'confirmation_refused');
  }
  return {
    payload: r.payload,
    commit: async () => {
      if (!(await r.commit()))
        throw new VastMcpError(
          `Refused: the confirmation token expired, or was taken over by another call, while this one was checking prices (a claim lasts ${CLAIM_LEASE_SECONDS} s). Nothing was done; call status to see whether anything was rented, then ${kind} again without confirmation_token for a fresh proposal.`,
          'confirmation_refused',
        );
    },
  };
}

async function issueToken(ctx: ToolContext, req: ConfirmRequest, fallbackReason: string | null): Promise<Decision> {
  if (ctx.deps.config.requireHumanApproval)
    throw humanChannelRequired(ctx, req.kind, fallbackReason ?? 'this client does not support elicitation forms');
  // `req.bound` already has the caller bound in (confirmWithUser); the tag only lets a refusal say why.
  const issued = await ctx.deps.confirmations.issue(req.kind, req.bound, req.payload ?? null);
  const caller = callerOf(ctx.extra.authInfo);
  return { decision: 'needs_confirmation', token: tagToken(issued.token, caller), expiresAt: issued.expiresAt, fallbackReason };
}

/**
 * The server-side gate for a costly or destructive action: a token previously issued for these exact
 * arguments, else an elicitation form when the client supports it, else a new single-use token.
 * `decline` is final for this exact plan. `cancel` (the form was dismissed), a client error, or a client
 * without form support fall back to the token flow, saying why.
 */
export async function confirmWithUser(ctx: ToolContext, asked: ConfirmRequest): Promise<Decision> {
  const { confirmations } = ctx.deps;
  // Every approval is per user: a recorded "no", the approval page's digest and the token's binding (redeemToken binds its own).
  const caller = callerOf(ctx.extra.authInfo);
  const req = {
    ...asked,
    bound: bindCaller(asked.bound, caller),
    pageBound: asked.pageBound === undefined ? undefined : bindCaller(asked.pageBound, caller),
  };
  if (await confirmations.isDeclined(req.kind, req.bound)) return { decision: 'declined', via: 'elicitation', action: 'declined_before' };
  if (req.token !== undefined)
    return { decision: 'approved', via: 'token', answers: {}, payload: await redeemToken(ctx, req.kind, asked.bound, req.token) };
  const digest = bindingOf({ kind: req.kind, bound: req.pageBound ?? req.bound });
  if (ctx.deps.approvalPages?.takeApproval(digest)) return { decision: 'approved', via: 'url', answers: {}, payload: req.payload ?? null };
  const modes = elicitationModes(ctx.server);
  if (!modes.form) return modes.url ? approveOnPage(ctx, req, digest) : issueToken(ctx, req, null);
  const fields: Record<string, FormField> = { [req.yesField]: { type: 'boolean', title: req.yesTitle, default: false }, ...(req.extraFields ?? {}) };
  let answer;
  try {
    answer = await askForm(ctx.server, req.message, fields, [req.yesField], ctx.extra.signal);
  } catch (e) {
    assertNotCancelled(ctx, 'the user answered');
    ctx.deps.logger.warn({ err: (e as Error).message, kind: req.kind }, 'elicitation failed; falling back');
    if (modes.url) return approveOnPage(ctx, req, digest);
    return issueToken(ctx, req, `the client could not show the approval form (${(e as Error).message.slice(0, 120)})`);
  }
  assertNotCancelled(ctx, 'acting on the answer');
  if (answer.action === 'cancel')
    return modes.url ? approveOnPage(ctx, req, digest) : issueToken(ctx, req, 'the approval form was dismissed without an answer (cancel)');
  if (answer.action !== 'accept' || answer.content[req.yesField] !== true) {
    if (answer.action === 'decline') await confirmations.markDeclined(req.kind, req.bound);
    return { decision: 'declined', via: 'elicitation', action: answer.action };
  }
  return { decision: 'approved', via: 'elicitation', answers: answer.content, payload: req.payload ?? null };
}

/**
 * URL-mode elicitation (MCP 2025-11-25): the client offers the user a loopback page that shows the
 * exact plan or destroy scope and takes the decision there, out of the agent's reach. The call waits a
 * while for it; if the human has not decided yet, it answers "pending" and the same call, repeated after
 * they approved, proceeds (the approval is bound to the digest of exactly this plan, single use).
 */
async function approveOnPage(ctx: ToolContext, req: ConfirmRequest, digest: string): Promise<Decision> {
  const { deps } = ctx;
  deps.approvalPages ??= new ApprovalPages(() => Date.now() / 1000);
  const page = await deps.approvalPages.open(digest, req.yesTitle, req.message, deps.config.confirmationTtlSeconds);
  let r;
  try {
    r = await ctx.server.server.elicitInput(
      {
        mode: 'url',
        message: `${req.yesTitle}? Open this local page to review exactly what will happen and approve or decline it.`,
        url: page.url,
        elicitationId: page.id.slice(0, 22),
      },
      ctx.extra.signal ? { signal: ctx.extra.signal } : undefined,
    );
  } catch (e) {
    assertNotCancelled(ctx, 'the user answered');
    return issueToken(ctx, req, `the client could not open the approval page (${(e as Error).message.slice(0, 120)})`);
  }
  assertNotCancelled(ctx, 'acting on the answer');
  if (r.action === 'decline') {
    await deps.confirmations.markDeclined(req.kind, req.bound);
    return { decision: 'declined', via: 'url', action: 'decline' };
  }
  if (r.action === 'cancel') return issueToken(ctx, req, 'the approval page was dismissed without an answer (cancel)');
  const d = await deps.approvalPages.wait(page.id, deps.config.approvalWaitMs, ctx.extra.signal);
  assertNotCancelled(ctx, 'acting on the answer');
  if (d === 'approved' && deps.approvalPages.takeApproval(digest))
    return { decision: 'approved', via: 'url', answers: {}, payload: req.payload ?? null };
  if (d === 'declined') {
    await deps.confirmations.markDeclined(req.kind, req.bound);
    return { decision: 'declined', via: 'url', action: 'decline' };
  }
  return {
    decision: 'needs_confirmation',
    token: null,
    expiresAt: Date.now() / 1000 + deps.config.confirmationTtlSeconds,
    fallbackReason: null,
    approvalUrl: page.url,
  };
}

export type Pending = Extract<Decision, { decision: 'needs_confirmation' }>;

/** What the agent gets back while approval is pending: the token to pass back, or the approval page the human has open. */
export function pendingApproval(
  d: Pending,
  tool: string,
  tokenField: 'confirmation_token' | 'approval_token',
): { fields: Record<string, string>; instruction: string } {
  const expires_at = new Date(d.expiresAt * 1000).toISOString();
  if (d.token === null) {
    return {
      fields: { approval_url: d.approvalUrl ?? '', expires_at },
      instruction: `The user was shown a local approval page (${d.approvalUrl}). Wait for them: once they approved there, call ${tool} again with the same arguments (no token). If they declined or do not answer, stop.`,
    };
  }
  return {
    fields: { [tokenField]: d.token, expires_at },
    instruction: `${d.fallbackReason ? `The approval form could not be used: ${d.fallbackReason}. ` : ''}Show this to the user and ask them. Only if they say yes, call ${tool} again with the same arguments and ${tokenField} "${d.token}" (single use). If they say no, stop.`,
  };
}
