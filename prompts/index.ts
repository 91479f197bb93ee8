import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ServerDeps } from '../server/deps.js';
import type { AuthLike } from '../server/identity/caller.js';
import { instanceIdCompleter, profileNameCompleter } from './completions.js';
import { cannedPrompts } from './workflows.js';
import { registerJobPrompts } from './jobs.js';

/** The dialog-first workflows as MCP prompts. */
export function registerPrompts(server: McpServer, deps: ServerDeps, sessionAuth?: AuthLike): void {
  const profiles = Object.keys(deps.profiles.profiles);
  const text = (t: string) => ({ messages: [{ role: 'user' as const, content: { type: 'text' as const, text: t } }] });
  const w = cannedPrompts(profiles);
  const instanceIds = instanceIdCompleter(deps, sessionAuth);
  const profileNames = profileNameCompleter(deps);

  server.registerPrompt(
    'rent-gpu',
    {
      title: 'Rent a GPU (dialog-first)',
      description: 'Ask only what is needed, propose defaults, get an explicit yes, then rent.',
      argsSchema: {
        task: z.string().optional().describe('What the user wants to run'),
        profile: completable(
          z
            .string()
            .optional()
            .describe(`A GPU profile: ${profiles.join(', ')}`),
          (v) => profileNames(v ?? ''),
        ),
        hours: z.string().optional().describe('Expected hours of use'),
      },
    },
    (a) => text(w.rentGpu(a)),
  );

  server.registerPrompt(
    'teardown',
    {
      title: 'Tear down an instance safely',
      description: 'Copy results off, verify, get explicit approval, destroy, verify the final state and the meter.',
      argsSchema: {
        instance_id: completable(z.string().describe('Instance id'), (v) => instanceIds(v)),
        results_path: z.string().optional().describe('Where the results are on the instance (default /workspace)'),
        destination: z.string().optional().describe('Local directory or s3:// URI for the copy'),
      },
    },
    (a) => text(w.teardown(a)),
  );

  server.registerPrompt(
    'recover-preempted',
    {
      title: 'Recover a preempted or stuck instance',
      description: 'Diagnose outbid/offline/scheduling and relaunch from the last verified checkpoint on a new offer.',
      argsSchema: { instance_id: completable(z.string().describe('The instance that stopped or is stuck'), (v) => instanceIds(v)) },
    },
    (a) => text(w.recover(a)),
  );

  server.registerPrompt(
    'cost-review',
    {
      title: 'Review what is costing money',
      description: 'What bills now (stopped disks too), the 24 h projection, budget headroom, overdue instances.',
      argsSchema: { days: z.string().optional().describe('Days of history to review (default 7)') },
    },
    (a) => text(w.costReview(a)),
  );
  registerJobPrompts(server);
}
