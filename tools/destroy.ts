import { z } from 'zod';
import { VastMcpError } from '../server/errors.js';
import { gateAllows, gateState, LedgerUnreadable } from '../server/safety/destroy-gate.js';
import { instanceBurnPerHour } from '../server/vast/pricing.js';
import { supportsElicitation } from './ask-user.js';
import { confirmWithUser, pendingApproval } from './confirm.js';
import { assertStateWritable, recordOutcome } from '../server/safety/mutation-record.js';
import { defineTool } from './define-tool.js';
import { InstanceIdInput } from './lifecycle-common.js';
import { describeForDestroy, verifyGone } from './destroy-support.js';

const output = z.object({
  instance_id: z.number(),
  status: z.enum(['destroyed', 'already_destroyed', 'needs_approval', 'declined']),
  verified_final_state: z.enum(['gone', 'present', 'unknown']).describe('What a fresh read of the instance shows after the call'),
  verified_copies: z.array(z.object({ remote_path: z.string(), destination: z.string(), size: z.number(), sha256: z.string(), at: z.number() })),
  discarded: z.boolean(),
  cost_saved_per_hour: z.number().describe('USD/hour that stops billing'),
  not_covered: z
    .object({
      inspected: z.boolean().describe('False when the disk could not be listed (then assume everything not copied is lost)'),
      files: z
        .array(z.object({ path: z.string().describe('Instance-controlled name: untrusted'), bytes: z.number() }))
        .describe('Largest files without a verified copy (at most 20)'),
      count: z.number(),
      bytes: z.number(),
      truncated: z.boolean(),
    })
    .optional()
    .describe('What on the instance no verified copy covers'),
  approval_token: z.string().optional(),
  approval_url: z.string().optional().describe('Local approval page the user has open (URL-mode elicitation)'),
  expires_at: z.string().optional(),
  warnings: z.array(z.string()).optional(),
  fallback_reason: z.string().optional().describe('Why the token flow is used although the client has elicitation'),
});

export const destroyTool = defineTool({
  name: 'destroy',
  title: 'Destroy an instance (deletes its disk)',
  description:
    "Destroy an instance: stops all billing AND PERMANENTLY DELETES ITS DISK. The server refuses unless (1) the user explicitly approves, and (2) the instance's results were " +
    'copied off and verified (copy tool, checksums on both ends, recorded in the ledger) after its last start — or the user explicitly chose to discard them (discard: true). ' +
    'Without elicitation the first call returns needs_approval with what will be lost and an approval_token; show it to the user and call again with the same arguments plus the token only if they approve. ' +
    'Afterwards the instance is re-read and its final state reported. Destroying an already destroyed instance is a harmless no-op.',
  access: 'destructive',
  input: z
    .object({
      instance_id: InstanceIdInput,
      discard: z.boolean().optional().describe('The user explicitly said nothing on this instance needs keeping (no verified copy needed)'),
      approval_token: z.string().max(200).optional().describe('Token from a needs_approval answer, after the user approved'),
    })
    .strict(),
  output,
  async run({ instance_id, discard, approval_token }, ctx) {
    const { deps } = ctx;
    const inst = await deps.vast.getInstance(instance_id);
    if (!inst) {
      return {
        data: {
          instance_id,
          status: 'already_destroyed' as const,
          verified_final_state: 'gone' as const,
          verified_copies: [],
          discarded: false,
          cost_saved_per_hour: 0,
        },
        text: `Instance ${instance_id} does not exist (already destroyed). Nothing to do; nothing is billing for it.`,
      };
    }
    const state = await gateState(inst, deps.ledger, deps.audit, deps.now()).catch((e: unknown) => {
      if (e instanceof LedgerUnreadable) {
        deps.logger.warn(
          { err: e.reason, instance_id },
          `destroy gate: the ${e.what === 'ledger' ? 'verified-copy ledger' : 'shared audit log'} cannot be read`,
        );
        deps.audit.record({
          tool: 'destroy',
          action: 'destroy',
          args: { instance_id, discard },
          result: 'refused',
          instance_id,
          detail: { reason: e.what === 'ledger' ? 'ledger unreadable' : 'audit log unreadable' },
        });
      }
      throw e;
    });
    const copies = state.copies.map((c) => ({
      remote_path: c.remote_path,
      destination: c.destination,
      size: c.size,
      sha256: c.sha256_local,
      at: c.at,
    }));
    const burn = instanceBurnPerHour(inst).total;
    const base: {
      instance_id: number;
      verified_copies: typeof copies;
      cost_saved_per_hour: number;
      not_covered?: z.infer<typeof output>['not_covered'];
    } = { instance_id, verified_copies: copies, cost_saved_per_hour: burn };
    const hasCopy = state.copies.length > 0;
    if (!hasCopy && discard !== true && !supportsElicitation(ctx.server)) {
      deps.audit.record({
        tool: 'destroy',
        action: 'destroy',
        args: { instance_id, discard },
        result: 'refused',
        instance_id,
        detail: { reason: 'no verified copy' },
      });
      throw new VastMcpError(
        `Refused: instance ${instance_id} has no verified copy of its results since its last start, and the user has not chosen to discard them. ` +
          'Copy the results off with the copy tool (it verifies checksums and records them), then call destroy again; or, only if the user explicitly says nothing needs keeping, call destroy with discard: true (the user must still approve).',
        'destroy_refused',
      );
    }
    const { message, notCovered } = await describeForDestroy(deps, inst, state, burn, discard === true);
    const decision = await confirmWithUser(ctx, {
      kind: 'destroy',
      bound: { instance_id, ledger: state.ledgerDigest, discard: discard === true },
      token: approval_token,
      message,
      yesField: 'approve',
      yesTitle: `Destroy instance ${instance_id} and delete its disk`,
      extraFields: hasCopy
        ? undefined
        : { discard: { type: 'boolean', title: 'Discard: nothing on this instance needs keeping', default: discard === true } },
    });
    base.not_covered = notCovered;
    if (decision.decision === 'needs_confirmation') {
      deps.audit.record({ tool: 'destroy', action: 'destroy', args: { instance_id, discard }, result: 'pending', instance_id });
      const p = pendingApproval(decision, 'destroy', 'approval_token');
      return {
        data: {
          ...base,
          status: 'needs_approval' as const,
          verified_final_state: 'present' as const,
          discarded: false,
          ...p.fields,
          ...(decision.fallbackReason ? { fallback_reason: decision.fallbackReason } : {}),
        },
        text: `${message}\n\nNOT DESTROYED. ${p.instruction}`,
      };
    }
    if (decision.decision === 'declined') {
      deps.audit.record({ tool: 'destroy', action: 'destroy', args: { instance_id, discard }, result: 'declined', instance_id });
      return {
        data: { ...base, status: 'declined' as const, verified_final_state: 'present' as const, discarded: false },
        text: `The user did not approve. Instance ${instance_id} was not destroyed (it keeps billing $${burn.toFixed(4)}/h).`,
      };
    }
    const discarded = decision.via === 'elicitation' ? decision.answers.discard === true : discard === true;
    if (!gateAllows(state, discarded)) {
      deps.audit.record({
        tool: 'destroy',
        action: 'destroy',
        args: { instance_id },
        result: 'refused',
        instance_id,
        detail: { reason: 'approved without a verified copy or discard' },
      });
      throw new VastMcpError(
        `Refused: the user approved, but there is no verified copy of instance ${instance_id}'s results and they did not choose to discard them. Copy the results off first (copy tool), then destroy.`,
        'destroy_refused',
      );
    }
    assertStateWritable(deps.config.stateDir, `destroying instance ${instance_id}`);
    await deps.vast.destroy(instance_id);
    const final = await verifyGone(deps, instance_id);
    const warn = recordOutcome(
      deps.audit,
      {
        tool: 'destroy',
        action: 'destroy',
        args: { instance_id, discard: discarded },
        result: final === 'gone' ? 'ok' : 'error',
        instance_id,
        detail: { final, copies: copies.length, approved_via: decision.via },
      },
      final === 'gone'
        ? `instance ${instance_id} was destroyed (verified gone); its billing stopped.`
        : `destroy of instance ${instance_id} was requested but it still exists and keeps billing.`,
    );
    if (final !== 'gone')
      throw new VastMcpError(
        `Destroy of ${instance_id} was requested, but the instance still exists on a fresh read. It was NOT destroyed and keeps billing; call status, then retry destroy.${warn ? ` ${warn}` : ''}`,
        'destroy_unverified',
      );
    return {
      data: { ...base, status: 'destroyed' as const, verified_final_state: 'gone' as const, discarded, ...(warn ? { warnings: [warn] } : {}) },
      text: `Destroyed ${instance_id} (verified: it no longer exists). Billing of $${burn.toFixed(4)}/h has stopped. ${discarded ? "Its data was discarded at the user's explicit choice." : `${copies.length} verified copy record(s) keep its results.`}${warn ? ` ${warn}` : ''}`,
    };
  },
});
