import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
beforeEach(() => {
  sim = env.sim();
});
const savedMode = process.env.VAST_MCP_JOBD;
beforeAll(() => {
  process.env.VAST_MCP_JOBD = 'off';
});
afterAll(() => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
});

const as = (user: string, team?: string): AuthInfo => ({
  token: `tok-${user}`,
  clientId: 'c',
  scopes: [],
  extra: { user, ...(team ? { team } : {}) },
});
const yaml = (budgets: string, profileExtra = '') => `profiles:
  cheap-4090:
    gpu_name: RTX 4090
    num_gpus: 1
    max_dph: 0.30
    min_reliability: 0.9
    max_hours: 2
${profileExtra}budgets:
${budgets}`;
type Who = { current: AuthInfo | undefined };
const connect = (text: string, who: Who = { current: undefined }, config: Record<string, unknown> = {}) =>
  env.connect({ deps: { profiles: parseProfiles(text, 'test.yaml') }, auth: () => who.current, config });
const ARGS = { gpu_name: 'RTX 4090', hours: 1, max_dph: 0.3, disk_gb: 20 };
const approve = async (mcp: Awaited<ReturnType<typeof connect>>, args: Record<string, unknown>) => {
  const first = (await mcp.call('create', args)).structuredContent as any;
  expect(first?.status, textOf(await mcp.call('status'))).toBe('needs_confirmation');
  const r = await mcp.call('create', { ...args, confirmation_token: first.confirmation_token });
  expect(r.isError, textOf(r)).toBeFalsy();
  return r.structuredContent as any;
};

describe('project attribution an agent cannot escape (17.7)', () => {
  it('an agent omitting project cannot exceed the project cap: the rental goes to the default project', async () => {
    const mcp = await connect(yaml('  default_project: thesis\n  projects:\n    thesis:\n      total_usd: 0.50\n'));
    await approve(mcp, { ...ARGS, project: 'thesis' });
    sim.world.clock.advance(3 * 3600);
    const r = await mcp.call('create', ARGS);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/left of the project "thesis" budget/);
  });

  it("uses the user's default project when the call names none", async () => {
    const who: Who = { current: as('alice') };
    const mcp = await connect(
      yaml('  users:\n    alice:\n      default_project: thesis\n  projects:\n    thesis:\n      total_usd: 0.50\n    other: {}\n'),
      who,
    );
    const done = await approve(mcp, ARGS);
    expect(done.instances[0].label).toMatch(/^alice-thesis-[0-9a-f]{6}$/);
    const shown = (await mcp.call('status')).structuredContent as any;
    expect(shown.instances[0]).toMatchObject({ rented_by: { user: 'alice', team: null }, project: 'thesis' });
    sim.world.clock.advance(3 * 3600);
    expect(textOf(await mcp.call('create', ARGS))).toMatch(/project "thesis" budget/);
  });

  it('refuses with an actionable message when projects are listed and nothing names one, and refuses unlisted projects', async () => {
    const mcp = await connect(yaml('  projects:\n    thesis:\n      total_usd: 0.50\n'));
    const none = await mcp.call('create', ARGS);
    expect(none.isError).toBe(true);
    expect(textOf(none)).toMatch(/lists projects \(thesis\), so every rental must belong to one.*Pass project.*default_project/);
    const other = await mcp.call('create', { ...ARGS, project: 'thesis2' });
    expect(textOf(other)).toMatch(/project "thesis2" is not in the budgets file .* would escape every project cap/);
    expect(sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'))).toHaveLength(0);
  });

  it('a profile that belongs to a project attributes to it, and cannot be moved to another project', async () => {
    const mcp = await connect(
      yaml('  projects:\n    thesis:\n      total_usd: 0.50\n    other: {}\n', '    project: thesis\n').replace(
        'max_hours: 2\n    project',
        'max_hours: 2\n    project',
      ),
    );
    const moved = await mcp.call('create', { profile: 'cheap-4090', project: 'other' });
    expect(textOf(moved)).toMatch(/profile "cheap-4090" belongs to project "thesis"/);
    const p = (await mcp.call('create', { profile: 'cheap-4090' })).structuredContent as any;
    expect(p.run.project).toBe('thesis');
  });

  it('a project bound to a team is refused to other teams', async () => {
    const who: Who = { current: as('carol', 'ops') };
    const mcp = await connect(yaml('  projects:\n    thesis:\n      team: ml\n    general: {}\n'), who);
    expect(textOf(await mcp.call('create', { ...ARGS, project: 'thesis' }))).toMatch(/project "thesis" belongs to team "ml", not yours/);
    expect(((await mcp.call('create', { ...ARGS, project: 'general' })).structuredContent as any).status).toBe('needs_confirmation');
  });
});

describe('per-user and per-team limits (15.3)', () => {
  it("counts a user's spend from the audit log's actor: her own rentals, not a label with her name", async () => {
    await rentOne(sim, { label: 'alice-thesis-abc123' });
    const who: Who = { current: as('alice') };
    const mcp = await connect(yaml('  each_user:\n    total_usd: 0.50\n'), who);
    sim.world.clock.advance(3 * 3600);
    // Someone else's instance, labelled with alice's name, has spent over $0.50: it is not hers.
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('needs_confirmation');
    await approve(mcp, ARGS);
    sim.world.clock.advance(3 * 3600);
    const r = await mcp.call('create', ARGS);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/left of the user "alice" budget/);
    who.current = as('bob');
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('needs_confirmation');
    const billing = (await mcp.call('billing')).structuredContent as any;
    expect(billing.budget.user).toMatchObject({ name: 'bob', spent_usd: 0, total_usd: 0.5 });
    who.current = as('alice');
    const hers = ((await mcp.call('billing')).structuredContent as any).budget.user;
    expect(hers.name).toBe('alice');
    expect(hers.spent_usd).toBeGreaterThan(0.5);
    expect(textOf(await mcp.call('billing'))).toMatch(/You \(alice\): spent \$\d+\.\d\d of \$0\.50/);
  });

  it("holds a team's burn cap across its users; another team is not affected", async () => {
    const who: Who = { current: as('alice', 'ml') };
    const mcp = await connect(yaml('  teams:\n    ml:\n      max_burn_per_hour: 0.45\n'), who);
    await approve(mcp, ARGS);
    who.current = as('bob', 'ml');
    const r = await mcp.call('create', ARGS);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/the team "ml" burn rate would be/);
    who.current = as('carol', 'ops');
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('needs_confirmation');
  });

  it('takes the team from the budgets file when the token names none, and refuses when they disagree', async () => {
    const who: Who = { current: as('alice') };
    const mcp = await connect(yaml('  users:\n    alice:\n      team: ml\n  teams:\n    ml:\n      max_burn_per_hour: 0.01\n'), who);
    expect(textOf(await mcp.call('create', ARGS))).toMatch(/team "ml" burn rate/);
    who.current = as('alice', 'ops');
    expect(textOf(await mcp.call('create', ARGS))).toMatch(/token says team "ops" but the budgets file puts alice in team "ml"/);
  });

  it('survives a long username: its cap holds and its label stays within limits', async () => {
    const long = `${'research.engineer.'.repeat(12)}alice@example.com`;
    const who: Who = { current: as(long) };
    const mcp = await connect(yaml(`  users:\n    "${long}":\n      total_usd: 0.50\n`), who);
    const done = await approve(mcp, ARGS);
    expect(done.instances[0].label.length).toBeLessThanOrEqual(256);
    expect(done.instances[0].label).toMatch(/^research\.engineer\.[A-Za-z.-]*-[0-9a-f]{6}-[0-9a-f]{6}$/);
    sim.world.clock.advance(3 * 3600);
    expect(textOf(await mcp.call('create', ARGS))).toMatch(/user "research\.engineer\..*" budget/);
  });

  it('picks up an edit of the budgets file without a restart', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vast-mcp-budgets-')), 'profiles.yaml');
    writeFileSync(path, yaml('  max_burn_per_hour: 50\n'));
    const who: Who = { current: as('alice') };
    const mcp = await connect(yaml('  max_burn_per_hour: 50\n'), who, { profilesPath: path });
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('needs_confirmation');
    writeFileSync(path, yaml('  max_burn_per_hour: 50\n  users:\n    alice:\n      max_burn_per_hour: 0.01\n'));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(textOf(await mcp.call('create', ARGS))).toMatch(/the user "alice" burn rate would be .* above the cap of \$0\.01\/h/);
  });

  it("enforces the user's cap at job submit too", async () => {
    const copyRoot = mkdtempSync(join(tmpdir(), 'budget-jobs-'));
    const who: Who = { current: as('alice') };
    const mcp = await connect(yaml('  users:\n    alice:\n      total_usd: 0.05\n'), who, { copyRoot });
    const r = await mcp.call('job_submit', {
      name: 'capped',
      image: 'pytorch/pytorch:latest',
      gpu_name: 'RTX 4090',
      disk_gb: 20,
      interruptible: false,
      command: 'true',
      outputs: ['/workspace/out/model.bin'],
      output_dir: 'out',
      max_cost_usd: 20,
      max_hours: 1,
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/left of the user "alice" budget/);
  });
});
