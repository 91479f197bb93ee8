import { beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const live = () => sim.world.liveInstances();
const yaml = (budgets: string, extra = '') => `profiles:
  cheap-4090:
    gpu_name: RTX 4090
    num_gpus: 1
    max_dph: 0.30
    min_reliability: 0.9
    max_hours: 2
${extra}budgets:
${budgets}`;
const connect = (text: string, opts: Parameters<typeof env.connect>[0] = {}) =>
  env.connect({ ...opts, deps: { profiles: parseProfiles(text, 'test.yaml'), ...(opts.deps ?? {}) } });
const approve = async (mcp: Awaited<ReturnType<typeof connect>>, tool: string, args: Record<string, unknown>) => {
  const first = (await mcp.call(tool, args)).structuredContent as any;
  return mcp.call(tool, { ...args, confirmation_token: first.confirmation_token });
};

describe('caps that hold (17.4, 17.5, 17.6)', () => {
  it('counts an instance that is still loading at the price it will burn once running', async () => {
    await rentOne(sim);
    const mcp = await connect(yaml('  max_burn_per_hour: 0.40\n'));
    const r = await mcp.call('create', { profile: 'cheap-4090' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/burn rate would be \$0\.4\d{3}\/h once running/);
  });

  it('two processes approving rentals at once cannot both pass the budget: the second sees the reservation', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'vast-mcp-shared-'));
    const text = yaml('  total_usd: 0.60\n');
    const a = await connect(text, { config: { stateDir } });
    const b = await connect(text, { config: { stateDir } });
    const args = { profile: 'cheap-4090' };
    const [ta, tb] = await Promise.all([a.call('create', args), b.call('create', args)]).then((rs) =>
      rs.map((r) => (r.structuredContent as any).confirmation_token),
    );
    const [ra, rb] = await Promise.all([
      a.call('create', { ...args, confirmation_token: ta }),
      b.call('create', { ...args, confirmation_token: tb }),
    ]);
    const ok = [ra, rb].filter((r) => !r.isError);
    const refused = [ra, rb].filter((r) => r.isError);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(textOf(refused[0]!)).toMatch(/reserved by approved rentals/);
    expect(live()).toHaveLength(1);
  });

  it('two processes racing against the burn cap: the rental still being created counts', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'vast-mcp-burn-'));
    const text = yaml('  max_burn_per_hour: 0.30\n');
    const a = await connect(text, { config: { stateDir } });
    const b = await connect(text, { config: { stateDir } });
    const args = { profile: 'cheap-4090', conservative: true };
    const ta = ((await a.call('create', { profile: 'cheap-4090' })).structuredContent as any).confirmation_token;
    const tb = ((await b.call('create', args)).structuredContent as any).confirmation_token;
    const [ra, rb] = await Promise.all([
      a.call('create', { profile: 'cheap-4090', confirmation_token: ta }),
      b.call('create', { ...args, confirmation_token: tb }),
    ]);
    expect([ra, rb].filter((r) => !r.isError)).toHaveLength(1);
    expect(textOf([ra, rb].find((r) => r.isError)!)).toMatch(/burn rate would be .*approved rentals still being created|burn rate would be/);
    expect(live()).toHaveLength(1);
  });

  it("a bid above the profile's $/h cap is refused", async () => {
    const mcp = await connect(yaml('  max_burn_per_hour: 50\n'));
    const c = (await approve(mcp, 'create', { profile: 'cheap-4090', interruptible: true })).structuredContent as any;
    const id = c.instances[0].instance_id;
    const r = await approve(mcp, 'bid', { instance_id: id, price: 20 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/above profile "cheap-4090"'s cap of \$0\.30\/h/);
    expect(sim.world.instances.get(id)!.gpuRate).toBeLessThan(1);
  });

  it('start is held to the burn cap too', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'vast-mcp-start-'));
    const a = await connect(yaml('  max_burn_per_hour: 50\n'), { config: { stateDir } });
    const id = ((await approve(a, 'create', { profile: 'cheap-4090' })).structuredContent as any).instances[0].instance_id;
    sim.world.clock.advance(600);
    await a.call('stop', { instance_id: id });
    const b = await connect(yaml('  max_burn_per_hour: 0.05\n'), { config: { stateDir } });
    const r = await approve(b, 'start', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/burn rate would be .* above the cap of \$0\.05\/h/);
    expect(sim.world.instances.get(id)!.intended).toBe('stopped');
  });

  it('a replacement for a taken offer is held to the same caps', async () => {
    const mcp = await connect(yaml('  max_burn_per_hour: 50\n'));
    const p = (await mcp.call('create', { gpu_name: 'RTX 3090', disk_gb: 40 })).structuredContent as any;
    const price = p.quote[0].total_per_hour;
    const capped = await connect(yaml(`  max_burn_per_hour: ${(price + 0.00005).toFixed(5)}\n`), { config: { stateDir: mcp.deps.config.stateDir } });
    const p2 = (await capped.call('create', { gpu_name: 'RTX 3090', disk_gb: 40 })).structuredContent as any;
    expect(p2.quote[0].offer_id).toBe(p.quote[0].offer_id);
    const machine = sim.world.market.byId.get(p.quote[0].offer_id)!.machine;
    machine.gpusBusyByOthers = machine.gpuTotal;
    const r = await capped.call('create', { gpu_name: 'RTX 3090', disk_gb: 40, confirmation_token: p2.confirmation_token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/replacement, offer \d+ at \$\d+\.\d{4}\/h, is refused by the caps: .*burn rate/);
    expect(live()).toHaveLength(0);
  });

  it("offer_id with a profile must match the profile's GPU model, not only its price", async () => {
    const mcp = await connect(yaml('  max_burn_per_hour: 50\n'));
    const offers = (await mcp.call('offers', { gpu_name: 'RTX 3090', max_dph: 0.3, limit: 1 })).structuredContent as any;
    const r = await mcp.call('create', { profile: 'cheap-4090', offer_id: offers.offers[0].id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/does not fit profile "cheap-4090": its GPU is RTX 3090/);
  });

  it("without a profile, the agent's tiny hours cannot slip an expensive rental under the budget", async () => {
    const mcp = await connect(yaml('  total_usd: 5\n'));
    const r = await mcp.call('create', { gpu_name: 'H100 SXM', num_gpus: 8, hours: 0.001 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Refused: 1 h at \$\d+\.\d{4}\/h would cost/);
  });
});

describe('project attribution and profile edits (17.7)', () => {
  it("someone else's label containing the project name does not count against the project", async () => {
    await rentOne(sim, { label: 'bob-thesis-abc123' });
    sim.world.clock.advance(3 * 3600);
    const mcp = await connect(yaml('  projects:\n    thesis:\n      total_usd: 0.50\n'));
    const r = await mcp.call('create', { gpu_name: 'RTX 4090', hours: 1, project: 'thesis', max_dph: 0.3 });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as any).status).toBe('needs_confirmation');
  });

  it('an edit of the profiles file takes effect without a restart', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vast-mcp-prof-')), 'profiles.yaml');
    writeFileSync(path, yaml('  max_burn_per_hour: 50\n'));
    const mcp = await connect(yaml('  max_burn_per_hour: 50\n'), { config: { profilesPath: path } });
    expect((await mcp.call('create', { profile: 'cheap-4090' })).isError).toBeFalsy();
    writeFileSync(path, yaml('  max_burn_per_hour: 0.01\n'));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    const r = await mcp.call('create', { profile: 'cheap-4090' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/above the cap of \$0\.01\/h/);
  });
});

describe('cancelled calls never rent (17.8)', () => {
  it('a create cancelled while its form is open rents nothing when the form is answered later', async () => {
    let release!: () => void;
    const answered = new Promise<void>((r) => (release = r));
    let opened!: () => void;
    const formOpen = new Promise<void>((r) => (opened = r));
    const mcp = await connect(yaml('  max_burn_per_hour: 50\n'), {
      onElicit: async () => {
        opened();
        await answered;
        return { action: 'accept', content: { confirm: true } };
      },
    });
    const ac = new AbortController();
    const call = mcp.client
      .callTool({ name: 'create', arguments: { gpu_name: 'RTX 4090', disk_gb: 40 } }, undefined, { signal: ac.signal })
      .catch((e) => e);
    await formOpen;
    ac.abort();
    await call;
    release();
    await new Promise((r) => setTimeout(r, 300));
    expect(live()).toHaveLength(0);
    expect(sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'))).toHaveLength(0);
  });
});
