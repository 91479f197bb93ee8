import { z } from 'zod';
import { defineTool } from './define-tool.js';
import { InstanceIdInput, lifecycleResult, LifecycleOutputSchema, rereadAfter, requireInstance } from './lifecycle-common.js';
import { diskPerHour } from '../server/vast/pricing.js';
import { assertStateWritable, recordOutcome } from '../server/safety/mutation-record.js';

export const stopTool = defineTool({
  name: 'stop',
  title: 'Stop an instance (disk keeps billing)',
  description:
    'Stop an instance: the GPU is released and GPU billing stops, but the DISK KEEPS BILLING while stopped — only destroy stops the meter. ' +
    'Running processes (tmux sessions included) are killed; onstart runs again at the next start. The GPU may be taken by someone else meanwhile, so a later start can wait in scheduling.',
  access: 'write',
  input: z.object({ instance_id: InstanceIdInput }).strict(),
  output: LifecycleOutputSchema,
  async run({ instance_id }, { deps }) {
    const inst = await requireInstance(deps, instance_id);
    const disk = diskPerHour(inst.storage_cost ?? 0, inst.disk_space ?? 0);
    const billing = `Disk keeps billing $${disk.toFixed(4)}/h ($${(disk * 24).toFixed(2)}/day) while stopped; only destroy stops the meter (copy results off first).`;
    if (inst.intended_status === 'stopped' && inst.actual_status === 'stopped')
      return lifecycleResult(deps, inst, 'already', `Instance ${instance_id} is already stopped. ${billing}`);
    assertStateWritable(deps.config.stateDir, 'stopping');
    await deps.vast.setState(instance_id, 'stopped');
    const warn = recordOutcome(
      deps.audit,
      { tool: 'stop', action: 'stop', args: { instance_id }, result: 'ok', instance_id, detail: { epoch: deps.now() } },
      `instance ${instance_id} was stopped (its disk keeps billing).`,
    );
    const after = await rereadAfter(deps, inst);
    return lifecycleResult(deps, after.inst, 'done', `Stopped ${instance_id}. ${billing}${warn ? ` ${warn}` : ''}${after.note}`);
  },
});
