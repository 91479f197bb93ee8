import { beforeEach, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import type { RunningSimulator } from '../../sim/server.js';
import { ConfirmationStore } from '../../server/safety/confirmations.js';
import { connectInMemory, textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne, simFetch, startTestSim, TEST_KEY } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
const connect = env.connect;
beforeEach(() => {
  sim = env.sim();
});

const live = () => sim.world.liveInstances();
const ARGS = { gpu_name: 'RTX 4090', disk_gb: 40, hours: 5 };

describe('create without elicitation: confirmation token', () => {
  it('proposes first, rents nothing, then rents exactly the confirmed offer with the token', async () => {
    const mcp = await connect();
    const first = await mcp.call('create', ARGS);
    expect(first.isError).toBeFalsy();
    const p = first.structuredContent as any;
    expect(p.status).toBe('needs_confirmation');
    expect(live()).toHaveLength(0);
    expect(p.proposal).toMatchObject({ api_key_source: 'env', image: 'pytorch/pytorch:latest', disk_gb: 40, count: 1 });
    expect(p.proposal.defaults_applied).toEqual(['image="pytorch/pytorch:latest"', 'count=1']);
    expect(p.questions.join(' ')).toMatch(/API key.*Image.*Disk.*Count/s);
    const q = p.quote[0];
    expect(q.total_per_hour).toBeCloseTo(q.gpu_per_hour + q.disk_per_hour, 4);
    expect(q.disk_per_hour).toBeCloseTo((q.storage_cost_per_gb_month * 40) / 720, 4);
    expect(q.projected_total).toBeCloseTo(q.total_per_hour * 5, 1);
    expect(textOf(first)).toMatch(/NOTHING WAS RENTED/);

    const second = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    const c = second.structuredContent as any;
    expect(c.status).toBe('created');
    expect(live()).toHaveLength(1);
    const inst = live()[0]!;
    expect(inst.id).toBe(c.instances[0].instance_id);
    expect(inst.ask.id).toBe(q.offer_id);
    expect(inst.label).toMatch(/^ada-[0-9a-f]{6}$/);
    expect(inst.diskGb).toBe(40);
    expect(inst.image).toBe('pytorch/pytorch:latest');
    expect(inst.runtype.has('ssh_direct')).toBe(q.direct_ports > 0);
    expect(textOf(second)).toMatch(/Stopping does not stop disk billing/);
  });

  it('refuses a reused token', async () => {
    const mcp = await connect();
    const token = ((await mcp.call('create', ARGS)).structuredContent as any).confirmation_token;
    expect(((await mcp.call('create', { ...ARGS, confirmation_token: token })).structuredContent as any).status).toBe('created');
    const again = await mcp.call('create', { ...ARGS, confirmation_token: token });
    expect(again.isError).toBe(true);
    expect(textOf(again)).toMatch(/unknown or was already used/);
    expect(live()).toHaveLength(1);
  });

  it('refuses an expired token', async () => {
    let now = 1000;
    const mcp = await connect({ deps: { confirmations: new ConfirmationStore(600, () => now) } });
    const token = ((await mcp.call('create', ARGS)).structuredContent as any).confirmation_token;
    now += 601;
    const r = await mcp.call('create', { ...ARGS, confirmation_token: token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/expired/);
    expect(live()).toHaveLength(0);
  });

  it('refuses a token when an argument changed', async () => {
    const mcp = await connect();
    const token = ((await mcp.call('create', ARGS)).structuredContent as any).confirmation_token;
    const r = await mcp.call('create', { ...ARGS, disk_gb: 41, confirmation_token: token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/arguments or the quoted price changed/);
    expect(live()).toHaveLength(0);
  });

  it('refuses a token when the price changed', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.world.market.byId.get(p.quote[0].offer_id)!.machine.pricePerGpu *= 1.01;
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/quoted price changed/);
    expect(live()).toHaveLength(0);
  });
});

describe('create with elicitation', () => {
  it('an edited form is re-priced and shown again; the plan accepted as shown is rented', async () => {
    const seen: any[] = [];
    const mcp = await connect({
      onElicit: (params) => {
        seen.push(params);
        return { action: 'accept', content: { confirm: true, image: 'ubuntu:22.04', disk_gb: 30, count: 1 } };
      },
    });
    const r = await mcp.call('create', ARGS);
    expect((r.structuredContent as any).status).toBe('created');
    expect(seen).toHaveLength(2);
    expect(seen[1].message).toMatch(/You changed the plan \(image ubuntu:22\.04, disk 30 GB, count 1\): it now costs \$\d+\.\d{4}\/h/);
    expect(seen[1].message).toMatch(/Disk: 30 GB/);
    expect(seen[0].message).toMatch(/\$\d+\.\d{4}\/h = GPU/);
    expect(seen[0].message).toMatch(/storage \$[\d.]+\/GB\/month/);
    expect(seen[0].message).toMatch(/bandwidth \$[\d.]+\/GB up/);
    expect(Object.keys(seen[0].requestedSchema.properties)).toEqual(['confirm', 'image', 'disk_gb', 'count']);
    expect(live()[0]!.image).toBe('ubuntu:22.04');
    expect(live()[0]!.diskGb).toBe(30);
  });

  it.each(['decline'] as const)('%s is final: nothing rented, no token offered', async (action) => {
    const mcp = await connect({ onElicit: () => ({ action }) });
    const r = await mcp.call('create', ARGS);
    const d = r.structuredContent as any;
    expect(d.status).toBe('declined');
    expect(d.confirmation_token).toBeUndefined();
    expect(live()).toHaveLength(0);
    expect(textOf(r)).toMatch(/Nothing was rented/);
  });

  it('accept without ticking confirm rents nothing', async () => {
    const mcp = await connect({ onElicit: () => ({ action: 'accept', content: { confirm: false } }) });
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('declined');
    expect(live()).toHaveLength(0);
  });
});

describe('create safeguards', () => {
  it('names instances already on the account in the proposal', async () => {
    const existing = await rentOne(sim);
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(p.unexpected_instances.map((u: any) => u.id)).toEqual([existing]);
    expect(p.unexpected_instances[0].burn_per_hour).toBeGreaterThan(0);
    const known = (await mcp.call('create', { ...ARGS, expected_instance_ids: [existing] })).structuredContent as any;
    expect(known.unexpected_instances).toEqual([]);
  });

  it('replaces an offer taken between confirmation and rent with one on another machine', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', { ...ARGS, gpu_name: 'RTX 3090' })).structuredContent as any;
    const machine = sim.world.market.byId.get(p.quote[0].offer_id)!.machine;
    machine.gpusBusyByOthers = machine.gpuTotal;
    const r = await mcp.call('create', { ...ARGS, gpu_name: 'RTX 3090', confirmation_token: p.confirmation_token });
    const c = r.structuredContent as any;
    expect(r.isError).toBeFalsy();
    expect(c.instances[0].replaced_offer_id).toBe(p.quote[0].offer_id);
    expect(c.instances[0].offer_id).not.toBe(p.quote[0].offer_id);
    expect(live()).toHaveLength(1);
    expect(live()[0]!.ask.machine.machineId).not.toBe(machine.machineId);
    expect(c.instances[0].total_per_hour).toBeLessThanOrEqual(p.quote[0].total_per_hour * 1.1 + 1e-9);
  });

  it('picks the second cheapest offer on another machine when asked to be conservative', async () => {
    const mcp = await connect();
    const cheapest = (await mcp.call('create', ARGS)).structuredContent as any;
    const conservative = (await mcp.call('create', { ...ARGS, conservative: true })).structuredContent as any;
    expect(conservative.quote[0].offer_id).not.toBe(cheapest.quote[0].offer_id);
    expect(conservative.quote[0].machine_id).not.toBe(cheapest.quote[0].machine_id);
    expect(conservative.quote[0].total_per_hour).toBeGreaterThanOrEqual(cheapest.quote[0].total_per_hour);
  });

  it('never rents twice when the create response is dropped', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'drop_response', count: 1 });
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    const c = r.structuredContent as any;
    expect(r.isError).toBeFalsy();
    expect(c.instances[0].reconciled).toBe(true);
    expect(live()).toHaveLength(1);
    expect(c.instances[0].instance_id).toBe(live()[0]!.id);
    expect(sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'))).toHaveLength(1);
  });

  it('retries once after the reconcile finds nothing, and still rents once', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'error', status: 503, count: 1 });
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    expect((r.structuredContent as any).status).toBe('created');
    expect(live()).toHaveLength(1);
    expect(sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'))).toHaveLength(2);
  });

  it.each([
    ['export HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz0123456789', /HF_TOKEN|\*_TOKEN/],
    ['aws configure set aws_access_key_id AKIAABCDEFGHIJKLMNOP', /AKIA/],
    [`curl -H "Authorization: Bearer ${TEST_KEY}" x`, /contains your Vast API key/],
  ])('refuses onstart with a secret (%s) and rents nothing', async (onstart, message) => {
    const mcp = await connect();
    const r = await mcp.call('create', { ...ARGS, onstart });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(message);
    expect(textOf(r)).not.toContain(TEST_KEY);
    expect(live()).toHaveLength(0);
  });

  it('accepts onstart that reads the secret from env, passes env through', async () => {
    const mcp = await connect();
    const args = { ...ARGS, onstart: 'huggingface-cli login --token "$HF_TOKEN"', env: { HF_TOKEN: 'hf_secretvalue' } };
    const p = (await mcp.call('create', args)).structuredContent as any;
    await mcp.call('create', { ...args, confirmation_token: p.confirmation_token });
    expect(live()[0]!.env.HF_TOKEN).toBe('hf_secretvalue');
    expect(live()[0]!.onstart).toBe(args.onstart);
  });

  it('points out an interruptible search followed by an on-demand create, and bids min_bid × multiplier', async () => {
    const mcp = await connect();
    await mcp.call('offers', { interruptible: true, limit: 1 });
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(p.notes.join(' ')).toMatch(/interruptible \(bid\) offers, but this create is on-demand/);
    const bid = (await mcp.call('create', { ...ARGS, interruptible: true, bid_multiplier: 1.5 })).structuredContent as any;
    const ask = sim.world.market.byId.get(bid.quote[0].offer_id)!;
    expect(bid.quote[0].bid_per_hour).toBeCloseTo(ask.machine.minBidPerGpu * ask.numGpus * 1.5, 3);
    await mcp.call('create', { ...ARGS, interruptible: true, bid_multiplier: 1.5, confirmation_token: bid.confirmation_token });
    expect(live()[0]!.isBid).toBe(true);
    expect(live()[0]!.gpuRate).toBeCloseTo(bid.quote[0].bid_per_hour, 4);
  });

  it('waits until running with progress notifications and a deadline', async () => {
    const fast = await startTestSim({ timeScale: 400 });
    const mcp = await connectInMemory(fast);
    try {
      const p = (await mcp.call('create', ARGS)).structuredContent as any;
      const progress: string[] = [];
      const r = await mcp.call('create', { ...ARGS, wait: true, confirmation_token: p.confirmation_token }, (n) => progress.push(n.message ?? ''));
      const c = r.structuredContent as any;
      expect(c.instances[0].state).toBe('running');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.join('\n')).toMatch(new RegExp(`#${c.instances[0].instance_id}`));
    } finally {
      await mcp.close();
      await fast.close();
    }
  });

  it('stops waiting at the deadline and says so', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    const started = Date.now();
    const r = await mcp.call('create', { ...ARGS, wait: true, wait_timeout_seconds: 5, confirmation_token: p.confirmation_token });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((r.structuredContent as any).instances[0].diagnosis).toMatch(/Not running after the 5 s deadline/);
  });
});

describe('labels from the account', () => {
  it.each([
    [{ username: 'grace', email: 'g.hopper@navy.mil' }, /^grace-[0-9a-f]{6}$/],
    [{ username: '', email: 'g.hopper@navy.mil' }, /^g\.hopper-[0-9a-f]{6}$/],
    [{ username: null, email: null }, /^vast-user-[0-9a-f]{6}$/],
  ])('%o → %s', async (profile, label) => {
    await simFetch(sim, 'POST', '/_sim/account', profile);
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    expect(live()[0]!.label).toMatch(label);
  });
});

describe('audit log', () => {
  it('records every mutating call, mode 0600, without the key', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', { ...ARGS, env: { SECRET_THING: 'hunter2-very-secret' } })).structuredContent as any;
    await mcp.call('create', { ...ARGS, env: { SECRET_THING: 'hunter2-very-secret' }, confirmation_token: p.confirmation_token });
    const entries = mcp.deps.audit.entries();
    expect(entries.map((e) => `${e.action}:${e.result}`)).toEqual(['propose:pending', 'rent_attempt:pending', 'rent:ok']);
    expect(statSync(mcp.deps.audit.path).mode & 0o777).toBe(0o600);
    const raw = JSON.stringify(entries);
    expect(raw).not.toContain(TEST_KEY);
    expect(raw).not.toContain('hunter2-very-secret');
  });
});
