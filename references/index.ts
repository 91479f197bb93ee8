import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../server/package-root.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ServerDeps } from '../server/deps.js';
import type { ProfilesFile } from '../server/profiles/profile-config.js';
import type { AuthLike } from '../server/identity/caller.js';
import { registerTemplates } from './templates.js';

export const REFERENCE_URIS = {
  api: 'vast-mcp://references/api',
  gotchas: 'vast-mcp://references/gotchas',
  profiles: 'vast-mcp://references/profiles',
  jobs: 'vast-mcp://references/jobs',
} as const;

/** The markdown files ship beside the build (package root/references). */
function readReference(name: string): string {
  return readFileSync(join(packageRoot(), 'references', `${name}.md`), 'utf8');
}

/** The active profiles and budgets as markdown, generated from the loaded config so it is always true. */
export function profilesMarkdown(file: ProfilesFile, source: string): string {
  const rows = Object.entries(file.profiles).map(
    ([name, p]) =>
      `| \`${name}\` | ${p.num_gpus}× ${p.gpu_name} | $${p.max_dph.toFixed(2)} | ${p.min_reliability} | ${p.max_hours} | ${p.description ?? ''}${p.project ? ` (project \`${p.project}\`)` : ''} |`,
  );
  const b = file.budgets;
  const projects = Object.entries(b.projects).map(
    ([n, l]) =>
      `- \`${n}\`: ${l.total_usd !== undefined ? `$${l.total_usd} total` : 'no total cap'}, ${l.max_burn_per_hour !== undefined ? `$${l.max_burn_per_hour}/h burn cap` : 'no burn cap'}`,
  );
  return [
    '# GPU profiles and budgets',
    '',
    `Loaded from \`${source}\`. Use a profile as \`profile\` in offers and create; its limits are enforced by the server.`,
    '',
    '| profile | GPUs | max $/h | min reliability | max hours | use |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    '## Budgets',
    `- total: ${b.total_usd !== undefined ? `$${b.total_usd}` : 'no cap'} ${b.since ? `since ${b.since}` : 'over the last 30 days'}`,
    `- burn cap across everything billing (stopped disks included): ${b.max_burn_per_hour !== undefined ? `$${b.max_burn_per_hour}/h` : 'none'}`,
    ...(projects.length ? ['- projects:', ...projects.map((p) => `  ${p}`)] : ['- projects: none']),
    ...identityLines(file),
    '',
    "A create is refused when its offer exceeds the profile cap, when its cost over the profile's max hours would exceed the remaining budget, or when the burn rate would exceed a cap. Instances past their profile's max hours are reported as overdue; nothing is destroyed automatically.",
  ].join('\n');
}

/** Who-pays rules, without naming other users (every caller of a team server reads this resource). */
function identityLines(file: ProfilesFile): string[] {
  const b = file.budgets;
  const lines: string[] = [];
  if (Object.keys(b.projects).length)
    lines.push(
      `- every rental belongs to a listed project: the one named in the call, else its profile's, else the user's, the team's or the default (${b.default_project ? `\`${b.default_project}\`` : 'none set'}); otherwise it is refused`,
    );
  const cap = (l: { total_usd?: number; max_burn_per_hour?: number } | undefined) =>
    l
      ? `${l.total_usd !== undefined ? `$${l.total_usd} total` : 'no total cap'}, ${l.max_burn_per_hour !== undefined ? `$${l.max_burn_per_hour}/h burn cap` : 'no burn cap'}`
      : 'none';
  if (b.each_user) lines.push(`- each authenticated user: ${cap(b.each_user)} (their own rentals, per the audit log)`);
  const users = Object.keys(b.users).length;
  const teams = Object.keys(b.teams).length;
  if (users || teams) lines.push(`- limits for ${users} named user(s) and ${teams} team(s); billing shows yours`);
  const accounts = Object.keys(file.accounts).length;
  if (accounts) lines.push(`- ${accounts} Vast account(s) held by the server, one per team; a caller uses their team's account only`);
  return lines;
}

export function registerReferences(server: McpServer, deps: ServerDeps, sessionAuth?: AuthLike): void {
  const md = (uri: string, text: string) => ({ contents: [{ uri, mimeType: 'text/markdown', text }] });
  server.registerResource(
    'api',
    REFERENCE_URIS.api,
    {
      title: 'Vast API map and safe-calling checklist',
      description: 'Endpoints this server uses, which are safe to repeat, and the rules it follows',
      mimeType: 'text/markdown',
    },
    async (uri) => md(uri.href, readReference('api')),
  );
  server.registerResource(
    'gotchas',
    REFERENCE_URIS.gotchas,
    { title: 'Vast.ai gotchas', description: 'Platform traps as symptom → cause → what the tools do', mimeType: 'text/markdown' },
    async (uri) => md(uri.href, readReference('gotchas')),
  );
  server.registerResource(
    'profiles',
    REFERENCE_URIS.profiles,
    { title: 'GPU profiles and budgets', description: 'The active profiles and budget caps, from the loaded config', mimeType: 'text/markdown' },
    async (uri) => md(uri.href, profilesMarkdown(deps.profiles, deps.config.profilesPath ?? 'the shipped defaults (config/default-profiles.yaml)')),
  );
  server.registerResource(
    'jobs',
    REFERENCE_URIS.jobs,
    {
      title: 'Jobs: caps, checkpoints, preemption, teardown',
      description: 'How jobs are submitted with a cap, what preemption does, how checkpoints are kept and how teardown is approved',
      mimeType: 'text/markdown',
    },
    async (uri) => md(uri.href, readReference('jobs')),
  );
  registerTemplates(server, deps, sessionAuth);
}
