import { z } from 'zod';
import { VastMcpError } from '../server/errors.js';
import { diagnose } from '../server/vast/diagnosis.js';
import { diskPerHour, round4 } from '../server/vast/pricing.js';
import { checkInstanceSpend } from '../server/profiles/spend-gate.js';
import { assertStateWritable, recordOutcome } from '../server/safety/mutation-record.js';
import { assertNotCancelled, confirmWithUser, pendingApproval } from './confirm.js';
import { defineTool } from './define-tool.js';
import { InstanceIdInput, lifecycleResult, LifecycleOutputSchema, rereadAfter, requireInstance } from './lifecycle-common.js';

export const startTool = defineTool({
  name: 'start',
  title: 'Start a stopped instance',
  description:
    'Start a stopped instance. COSTS MONEY: GPU billing resumes. Without client elicitation the first call returns needs_confirmation with the price and a token; ' +
    'show it to the user and call again with the token only if they agree. A stopped instance is bound to its machine: if its GPUs were taken meanwhile it waits in scheduling (status shows it).',
  access: 'write',
  input: z
    .object({
      instance_id: InstanceIdInput,
      confirmation_token: z.string().max(200).optional().describe('Token from a needs_confirmation answer, after the user said yes'),
    })
    .strict(),
  output: LifecycleOutputSchema,
  async run({ instance_id, confirmation_token }, ctx) {
    const { deps } = ctx;
    const inst = await requireInstance(deps, instance_id);
    if (inst.end_date && deps.now() >= inst.end_date) {
      return lifecycleResult(
        deps,
        inst,
        'already',
        `Instance ${instance_id}'s rental contract ended at ${new Date(inst.end_date * 1000).toISOString()}; it cannot be started again. Copy results off if you can, then destroy it and rent a new offer.`,
      );
    }
    // Starting or running already. An exited container, a failed start or a silent host is not:
    // those can be asked to run again (the old check sent an exited instance to a dead end).
    const busy =
      inst.actual_status === 'running' ||
      inst.actual_status === 'loading' ||
      inst.actual_status === 'rebooting' ||
      inst.actual_status === 'recycling' ||
      inst.actual_status == null ||
      (inst.actual_status === 'created' && diagnose(inst, deps.now()).code === 'provisioning');
    if (inst.intended_status === 'running' && busy)
      return lifecycleResult(deps, inst, 'already', `Instance ${instance_id} is already starting or running.`);
    const disk = diskPerHour(inst.storage_cost ?? 0, inst.disk_space ?? 0);
    const gpu = inst.dph_base ?? Math.max(0, (inst.dph_total ?? 0) - disk);
    const price = round4(gpu + disk);
    const decision = await confirmWithUser(ctx, {
      kind: 'start',
      bound: { instance_id, price },
      token: confirmation_token,
      message: `Start instance ${instance_id} (${inst.label ?? 'no label'}, ${inst.num_gpus ?? '?'}x ${inst.gpu_name ?? '?'})? GPU billing resumes: $${price.toFixed(4)}/h while running (disk $${disk.toFixed(4)}/h bills either way).`,
      yesField: 'confirm',
      yesTitle: `Start and pay $${price.toFixed(4)}/h`,
    });
    if (decision.decision === 'needs_confirmation') {
      const p = pendingApproval(decision, 'start', 'confirmation_token');
      return lifecycleResult(
        deps,
        inst,
        'needs_confirmation',
        `NOT STARTED. Starting resumes GPU billing at $${price.toFixed(4)}/h. ${p.instruction}`,
        p.fields,
      );
    }
    if (decision.decision === 'declined') {
      deps.audit.record({ tool: 'start', action: 'start', args: { instance_id }, result: 'declined', instance_id });
      return lifecycleResult(deps, inst, 'declined', 'The user declined. The instance stays stopped (its disk keeps billing).');
    }
    // Caps, a writable state directory and a live request come before the platform call (helper C: money).
    assertNotCancelled(ctx, 'starting');
    assertStateWritable(deps.config.stateDir, 'starting');
    const held = await checkInstanceSpend(deps, inst, price);
    // Write-ahead: before the instance can run (and write to its disk) again, every replica's destroy gate must
    // know it, or a copy made before this start would still count there. A store that cannot take it refuses.
    deps.audit.record({ tool: 'start', action: 'start_intent', args: { instance_id }, result: 'ok', instance_id, detail: { epoch: deps.now() } });
    if (!(await deps.audit.flushShared())) {
      await held.bind(false);
      throw new VastMcpError(
        `Refused: the shared audit log (VAST_MCP_STORE_URL) cannot be written right now, so the other replicas would not learn that instance ${instance_id} runs again. Nothing was started; try again once the store is back.`,
        'audit_unavailable',
      );
    }
    await deps.vast.setState(instance_id, 'running').catch(async (e: unknown) => {
      await held.bind(false);
      throw e;
    });
    await held.bind(true);
    const warn = recordOutcome(
      deps.audit,
      {
        tool: 'start',
        action: 'start',
        args: { instance_id },
        result: 'ok',
        instance_id,
        detail: { price, epoch: deps.now(), approved_via: decision.via },
      },
      `instance ${instance_id} was started and bills $${price.toFixed(4)}/h once running.`,
    );
    const after = await rereadAfter(deps, inst);
    // The platform converges asynchronously (DOC manage-instances.mdx:86-94): the first read may still show the old state.
    return lifecycleResult(
      deps,
      after.inst,
      'done',
      `Start requested for ${instance_id}; GPU billing resumes once it runs ($${price.toFixed(4)}/h). The state changes within seconds to minutes: call status with instance_id ${instance_id} and wait: true (it waits up to the per-call limit; call again to keep waiting) rather than assuming it runs.${warn ? ` ${warn}` : ''}${after.note}`,
    );
  },
});
