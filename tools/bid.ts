import { z } from 'zod';
import { VastMcpError } from '../server/errors.js';
import { checkInstanceSpend } from '../server/profiles/spend-gate.js';
import { assertStateWritable, recordOutcome } from '../server/safety/mutation-record.js';
import { diskPerHour } from '../server/vast/pricing.js';
import { assertNotCancelled, confirmWithUser, pendingApproval } from './confirm.js';
import { defineTool } from './define-tool.js';
import { InstanceIdInput, lifecycleResult, LifecycleOutputSchema, rereadAfter, requireInstance } from './lifecycle-common.js';

export const bidTool = defineTool({
  name: 'bid',
  title: 'Change an interruptible bid',
  description:
    "Change the bid of an interruptible instance (USD/hour for the whole instance). A higher bid COSTS MORE and needs the user's confirmation (token or elicitation); " +
    'an outbid instance is paused without warning.',
  access: 'write',
  input: z
    .object({
      instance_id: InstanceIdInput,
      price: z.number().min(0.001).max(512).describe('New bid, USD/hour'),
      confirmation_token: z.string().max(200).optional(),
    })
    .strict(),
  output: LifecycleOutputSchema,
  async run({ instance_id, price, confirmation_token }, ctx) {
    const { deps } = ctx;
    const inst = await requireInstance(deps, instance_id);
    if (!inst.is_bid)
      throw new VastMcpError(`Instance ${instance_id} is on-demand, not interruptible: it has no bid to change.`, 'not_interruptible');
    const decision = await confirmWithUser(ctx, {
      kind: 'bid',
      bound: { instance_id, price },
      token: confirmation_token,
      message: `Change the bid of instance ${instance_id} from $${(inst.dph_base ?? 0).toFixed(4)}/h to $${price.toFixed(4)}/h (minimum bid now $${(inst.min_bid ?? 0).toFixed(4)}/h)?`,
      yesField: 'confirm',
      yesTitle: `Bid $${price.toFixed(4)}/h`,
    });
    if (decision.decision === 'needs_confirmation') {
      const p = pendingApproval(decision, 'bid', 'confirmation_token');
      return lifecycleResult(deps, inst, 'needs_confirmation', `Bid NOT changed. ${p.instruction}`, p.fields);
    }
    if (decision.decision === 'declined') return lifecycleResult(deps, inst, 'declined', 'The user declined. The bid is unchanged.');
    assertNotCancelled(ctx, 'changing the bid');
    assertStateWritable(deps.config.stateDir, 'changing the bid');
    // A higher bid raises spend: the profile's $/h cap, the burn cap and the budget apply, as for create.
    const held = await checkInstanceSpend(deps, inst, price + diskPerHour(inst.storage_cost ?? 0, inst.disk_space ?? 0));
    await deps.vast.changeBid(instance_id, price).catch(async (e: unknown) => {
      await held.bind(false);
      throw e;
    });
    await held.bind(true);
    const warn = recordOutcome(
      deps.audit,
      { tool: 'bid', action: 'bid', args: { instance_id, price }, result: 'ok', instance_id, detail: { approved_via: decision.via } },
      `the bid of instance ${instance_id} is now $${price.toFixed(4)}/h.`,
    );
    const after = await rereadAfter(deps, inst);
    return lifecycleResult(deps, after.inst, 'done', `Bid of ${instance_id} set to $${price.toFixed(4)}/h.${warn ? ` ${warn}` : ''}${after.note}`);
  },
});
