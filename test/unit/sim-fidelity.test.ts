import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

// The simulator's realistic behaviours (fidelity audit, sections 1-3), each with its source.
let sim: RunningSimulator | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFidelityTestKeyxxxxxxxxxxxxxxxxxxxxxxx test';

async function freshAsk(s: RunningSimulator, gpus = 1) {
  return s.world.market.asks.find((a) => s.world.askAvailable(a) && a.numGpus === gpus && a.machine.gpuTotal === gpus)!;
}

describe('SSH key listings', () => {
  it('answers 404 "No SSH keys found" for an empty account and a JSON string of keys per instance (DOC show_ssh_keys.yaml:55, show_instance_ssh_keys.yaml:38-41)', async () => {
    sim = await startTestSim();
    const empty = await simFetch(sim, 'GET', '/api/v0/ssh/');
    expect(empty.status).toBe(404);
    expect(empty.json.msg).toBe('No SSH keys found for the user.');
    await simFetch(sim, 'POST', '/api/v0/ssh/', { ssh_key: KEY });
    const listed = await simFetch(sim, 'GET', '/api/v0/ssh/');
    expect(typeof listed.json[0].created_at).toBe('string');
    const id = await rentOne(sim);
    const keys = await simFetch(sim, 'GET', `/api/v0/instances/${id}/ssh/`);
    expect(typeof keys.json.ssh_keys).toBe('string');
    expect(JSON.parse(keys.json.ssh_keys)).toEqual([{ id: expect.any(Number), name: expect.any(String), public_key: KEY }]);
  });

  it('serves the other reading (array, [] for no keys) when asked', async () => {
    sim = await startTestSim({ fidelity: { instanceKeysShape: 'array', emptyAccountKeys: 'empty_array' } });
    expect((await simFetch(sim, 'GET', '/api/v0/ssh/')).json).toEqual([]);
    const id = await rentOne(sim);
    expect(Array.isArray((await simFetch(sim, 'GET', `/api/v0/instances/${id}/ssh/`)).json.ssh_keys)).toBe(true);
  });
});

describe('bids and interruptions', () => {
  it('creates a stopped instance and names it in the error when a bid is below min_bid without cancel_unavail (dstack 01becced9)', async () => {
    sim = await startTestSim();
    const ask = await freshAsk(sim);
    const r = await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, { image: 'ubuntu:22.04', disk: 10, price: 0.001, cancel_unavail: false });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ success: false, error: 'invalid_price' });
    const inst = sim.world.instances.get(r.json.new_contract)!;
    expect(inst.actual).toBe('stopped');
    expect(inst.intended).toBe('stopped');
    const refused = await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, { image: 'ubuntu:22.04', disk: 10, price: 0.001, cancel_unavail: true });
    expect(refused.status).toBe(400);
    expect(refused.json.new_contract).toBeUndefined();
  });

  it('interrupts a bid instance when an on-demand rental takes its GPUs, with the dstack signature', async () => {
    sim = await startTestSim();
    const ask = await freshAsk(sim);
    const bid = await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, { image: 'ubuntu:22.04', disk: 10, price: ask.machine.minBidPerGpu * 1.2 });
    expect(bid.status).toBe(200);
    sim.world.clock.advance(600);
    const od = await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, { image: 'ubuntu:22.04', disk: 10, cancel_unavail: true });
    expect(od.status).toBe(200);
    const row = (await simFetch(sim, 'GET', `/api/v0/instances/${bid.json.new_contract}/`)).json.instances;
    expect({ a: row.actual_status, i: row.intended_status, c: row.cur_state, n: row.next_state, b: row.is_bid }).toEqual({
      a: 'stopped',
      i: 'stopped',
      c: 'stopped',
      n: 'stopped',
      b: true,
    });
    expect(row.status_msg).not.toMatch(/outbid/i);
  });

  it('refuses to turn an on-demand instance into a bid (DOC instance-types.mdx:111)', async () => {
    sim = await startTestSim();
    const id = await rentOne(sim);
    const r = await simFetch(sim, 'PUT', `/api/v0/instances/bid_price/${id}/`, { client_id: 'me', price: 0.05 });
    expect(r.status).toBe(400);
    expect(sim.world.instances.get(id)!.isBid).toBe(false);
  });
});

describe('failure states', () => {
  it('fails the pull of an unresolvable image with the host message, in state created', async () => {
    sim = await startTestSim();
    const id = await rentOne(sim, { image: 'no-such-registry.invalid/nope:tag' });
    sim.world.clock.advance(600);
    const row = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances;
    expect(row.actual_status).toBe('created');
    expect(row.status_msg).toMatch(/no such host/);
    const ok = await rentOne(sim, { image: 'pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime' });
    sim.world.clock.advance(600);
    expect((await simFetch(sim, 'GET', `/api/v0/instances/${ok}/`)).json.instances.actual_status).toBe('running');
  });

  it('bills GPU time while frozen', async () => {
    sim = await startTestSim();
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'frozen' });
    const inst = sim.world.instances.get(id)!;
    const before = inst.costs.gpu;
    sim.world.clock.advance(3600);
    sim.world.tick();
    expect(inst.costs.gpu - before).toBeCloseTo(inst.gpuRate, 4);
  });

  it('reboots an exited instance back to running', async () => {
    sim = await startTestSim();
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'exited' });
    expect((await simFetch(sim, 'PUT', `/api/v0/instances/reboot/${id}/`, {})).status).toBe(200);
    sim.world.clock.advance(60);
    expect((await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances.actual_status).toBe('running');
  });
});

describe('rental expiry (DOC show_instance.yaml 196-209, faq/instances.mdx:13, manage-instances.mdx:158)', () => {
  it('carries end_date, stops the instance at the end, refuses a restart and deletes it 48 h later', async () => {
    sim = await startTestSim();
    const id = await rentOne(sim);
    const row = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances;
    expect(row.end_date).toBe(row.start_date + row.duration);
    sim.world.clock.advance(row.end_date - sim.world.now() + 1);
    const ended = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances;
    expect(ended.actual_status).toBe('stopped');
    expect(ended.intended_status).toBe('stopped');
    expect((await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status).toBe(400);
    sim.world.clock.advance(48 * 3600);
    expect((await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances).toBeNull();
  });
});

describe('asynchronous state changes (DOC manage-instances.mdx:86-94)', () => {
  it('shows a stop in intended_status at once and in actual_status after the configured delay', async () => {
    sim = await startTestSim({ fidelity: { stateChangeSeconds: 5 } });
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    let row = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances;
    expect([row.actual_status, row.intended_status]).toEqual(['running', 'stopped']);
    sim.world.clock.advance(6);
    row = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json.instances;
    expect(row.actual_status).toBe('stopped');
  });
});

describe('rate limits (on by default; DOC rate-limits-and-errors.mdx, x-rate-limit per OpenAPI file)', () => {
  it('limits per key and endpoint, offer search at 10 per minute, with the documented 429 bodies', async () => {
    sim = await startTestSim({ rateLimits: undefined });
    const search = { limit: 1 };
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) codes.push((await simFetch(sim, 'POST', '/api/v0/bundles/', search)).status);
    expect(codes.slice(0, 10).every((c) => c === 200)).toBe(true);
    const limited = await simFetch(sim, 'POST', '/api/v0/bundles/', search);
    expect(limited.status).toBe(429);
    expect(limited.json.detail).toMatch(/API requests too frequent/);
    expect((await simFetch(sim, 'GET', '/api/v0/instances/5/')).status).toBe(200);
    const second = await simFetch(sim, 'GET', '/api/v0/instances/5/');
    expect(second.status).toBe(429);
    expect(second.json).toBe('API requests too frequent');
  });

  it('keeps create closed for its 12 s penalty after a 429', async () => {
    let now = 0;
    const { RateLimiter } = await import('../../sim/rate-limits.js');
    const rl = new RateLimiter(() => now);
    expect(rl.check('PUT', '/api/v0/asks/1', 'k')).toBeNull();
    now = 1000;
    expect(rl.check('PUT', '/api/v0/asks/1', 'k')?.status).toBe(429);
    now = 6000; // past the 4.5 s interval, inside the penalty
    expect(rl.check('PUT', '/api/v0/asks/1', 'k')?.status).toBe(429);
    // Per key: another key has its own budget.
    expect(rl.check('PUT', '/api/v0/asks/1', 'k2')).toBeNull();
    now = 6000 + 12_001;
    expect(rl.check('PUT', '/api/v0/asks/1', 'k')).toBeNull();
  });
});
