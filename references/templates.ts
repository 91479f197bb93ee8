import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ServerDeps } from '../server/deps.js';
import { accruedByInstance, viewInstance } from '../server/vast/instance-view.js';
import { instanceIdCompleter, profileNameCompleter } from '../prompts/completions.js';
import type { AuthLike } from '../server/identity/caller.js';
import { depsForCall } from '../server/identity/caller-deps.js';
import { fenceUntrusted } from '../tools/untrusted.js';

export const TEMPLATE_URIS = { instanceStatus: 'vast-mcp://instances/{instance_id}/status', profile: 'vast-mcp://profiles/{name}' } as const;

const SIMULATED = '[SIMULATED — sandbox simulator, no real account or money]';

/** One instance's status as markdown: server-computed numbers in the clear, everything the platform or instance wrote fenced. */
export async function instanceStatusMarkdown(deps: ServerDeps, id: number): Promise<string> {
  const inst = await deps.vast.requireInstance(id);
  const now = deps.now();
  const accrued = (await accruedByInstance(deps.vast, Math.min(now - 86400, inst.start_date ?? now), now + 60)).get(id) ?? null;
  const v = viewInstance(inst, now, accrued);
  return [
    ...(deps.config.simulated ? [SIMULATED, ''] : []),
    `# Instance ${v.id}`,
    '',
    `- billed now: $${v.burn_per_hour.total.toFixed(4)}/h (GPU $${v.burn_per_hour.gpu.toFixed(4)}, disk $${v.burn_per_hour.disk.toFixed(4)})`,
    `- accrued: ${v.accrued_cost ? `$${v.accrued_cost.total.toFixed(4)}` : 'unknown'}`,
    `- diagnosis code: \`${/^[a-z_]+$/.test(v.diagnosis.code) ? v.diagnosis.code : 'other'}\``,
    '- A stopped instance still bills its disk; only destroy (after a verified copy) stops the meter.',
    '',
    fenceUntrusted(
      JSON.stringify(v, null, 2),
      'the instance record as the platform reports it (label, status message and image are set outside this server)',
    ),
  ].join('\n');
}

function profileMarkdown(deps: ServerDeps, name: string): string {
  const p = deps.profiles.profiles[name];
  if (!p) throw new Error(`No profile "${name}". Profiles: ${Object.keys(deps.profiles.profiles).join(', ')}.`);
  return [
    `# Profile \`${name}\``,
    '',
    p.description ?? '',
    '',
    `- GPUs: ${p.num_gpus}× ${p.gpu_name}`,
    `- max price: $${p.max_dph.toFixed(2)}/h per instance`,
    `- min reliability: ${p.min_reliability}`,
    `- max hours: ${p.max_hours} (past it, status and billing flag the instance as overdue)`,
    '',
    `Use \`profile: "${name}"\` in offers and create; the server enforces these limits.`,
  ].join('\n');
}

/** Resource templates: one instance's status, one profile. Both complete their variable. */
export function registerTemplates(server: McpServer, deps: ServerDeps, sessionAuth?: AuthLike): void {
  const instanceIds = instanceIdCompleter(deps, sessionAuth);
  const profileNames = profileNameCompleter(deps);
  const md = (uri: string, text: string) => ({ contents: [{ uri, mimeType: 'text/markdown', text }] });

  server.registerResource(
    'instance-status',
    new ResourceTemplate(TEMPLATE_URIS.instanceStatus, {
      // Listing every instance would call the platform on each resources/list; clients discover ids by completion.
      list: undefined,
      complete: { instance_id: (value) => instanceIds(value) },
    }),
    {
      title: 'Instance status',
      description: 'One instance: $/h billed now, cost accrued, diagnosis, and its record (fenced as untrusted). Read-only.',
      mimeType: 'text/markdown',
    },
    async (uri, vars, extra) => {
      const raw = String(vars.instance_id ?? '');
      if (!/^\d{1,15}$/.test(raw)) throw new Error('instance_id must be a number (see the status tool)');
      // The reader's view: an authenticated user reads only instances the owner rule lets them see.
      const view = depsForCall(deps, extra.authInfo, 'resource:instance-status');
      return md(uri.href, deps.secrets.scrub(await instanceStatusMarkdown(view, Number(raw))));
    },
  );

  server.registerResource(
    'profile',
    new ResourceTemplate(TEMPLATE_URIS.profile, {
      // The profiles reference already lists every profile; resources/list stays the three references.
      list: undefined,
      complete: { name: (value) => profileNames(value) },
    }),
    {
      title: 'GPU profile',
      description: 'One GPU profile: its GPU, price cap, reliability floor and max hours, as enforced by the server.',
      mimeType: 'text/markdown',
    },
    async (uri, vars) => md(uri.href, profileMarkdown(deps, String(vars.name ?? ''))),
  );
}
