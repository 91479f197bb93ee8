import { z } from 'zod';
import { assertStateWritable, recordOutcome } from '../server/safety/mutation-record.js';
import { defineTool } from './define-tool.js';
import { InstanceIdInput, lifecycleResult, LifecycleOutputSchema, requireInstance } from './lifecycle-common.js';

export const labelTool = defineTool({
  name: 'label',
  title: 'Label an instance',
  description: 'Set an instance label (at most 256 characters). Free, changes nothing else; labels help find instances in status and billing.',
  access: 'write',
  input: z
    .object({
      instance_id: InstanceIdInput,
      label: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[^\n\r]+$/, 'one line')
        .describe('New label'),
    })
    .strict(),
  output: LifecycleOutputSchema,
  async run({ instance_id, label }, { deps }) {
    await requireInstance(deps, instance_id);
    assertStateWritable(deps.config.stateDir, 'relabelling');
    await deps.vast.setLabel(instance_id, label);
    const warn = recordOutcome(
      deps.audit,
      { tool: 'label', action: 'label', args: { instance_id, label }, result: 'ok', instance_id },
      `instance ${instance_id} was relabelled.`,
    );
    const after = await requireInstance(deps, instance_id);
    return lifecycleResult(deps, after, 'done', `Label of ${instance_id} is now "${after.label ?? label}".${warn ? ` ${warn}` : ''}`);
  },
});
