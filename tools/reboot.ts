import { z } from 'zod';
import { defineTool } from './define-tool.js';
import { InstanceIdInput, lifecycleResult, LifecycleOutputSchema, requireInstance } from './lifecycle-common.js';

export const rebootTool = defineTool({
  name: 'reboot',
  title: 'Reboot an instance',
  description:
    'Restart the container of a running or exited instance without losing its disk or its GPU. Running processes are killed; onstart runs again. Billing continues unchanged.',
  access: 'write',
  input: z.object({ instance_id: InstanceIdInput }).strict(),
  output: LifecycleOutputSchema,
  async run({ instance_id }, { deps }) {
    const inst = await requireInstance(deps, instance_id);
    // An exited container is restarted by a reboot too (the docs' remedy for exited: restart/reboot).
    if (inst.actual_status !== 'running' && inst.actual_status !== 'exited')
      return lifecycleResult(
        deps,
        inst,
        'already',
        `Instance ${instance_id} is not running (${inst.actual_status ?? 'provisioning'}); nothing to reboot. Use start for a stopped instance.`,
      );
    await deps.vast.reboot(instance_id);
    deps.audit.record({ tool: 'reboot', action: 'reboot', args: { instance_id }, result: 'ok', instance_id });
    return lifecycleResult(
      deps,
      await requireInstance(deps, instance_id),
      'done',
      `Reboot requested for ${instance_id}. To wait until it runs again call status with instance_id ${instance_id} and wait: true (up to the per-call limit each call; call again to keep waiting).`,
    );
  },
});
