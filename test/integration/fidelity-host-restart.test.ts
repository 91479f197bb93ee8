import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne, simFetch } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
let id: number;
const SHA = 'c'.repeat(64);
const row = async () => (await simFetch(sim, 'GET', `/api/v0/instances/${id}/?owner=me`)).json.instances;

beforeEach(async () => {
  sim = env.sim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
});

describe('a restart by the host (11.15: platform-side restarts)', () => {
  it('the instance reads exited, comes back by itself, and its uptime starts from zero', async () => {
    const before = await row();
    expect(before.actual_status).toBe('running');
    expect(before.uptime_mins).toBeGreaterThan(5);
    const r = await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'host_restart' });
    expect(r.status).toBe(200);
    const down = await row();
    expect(down.actual_status).toBe('exited');
    expect(down.intended_status).toBe('running');
    sim.world.clock.advance(60);
    const back = await row();
    expect(back.actual_status).toBe('running');
    expect(back.uptime_mins).toBeLessThan(1);
    const starts = sim.world.instances.get(id)!.starts!;
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThan(300);
    expect(sim.world.instances.get(id)!.hostRestarts).toHaveLength(1);
  });

  it('refuses a host restart of an instance that is not running', async () => {
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    const r = await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'host_restart' });
    expect(r.status).toBe(409);
  });

  it('a copy made before the restart unlocks destroy neither while it is down nor after it is back', async () => {
    const mcp = await env.connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    const asked = await mcp.call('destroy', { instance_id: id });
    expect((asked.structuredContent as any).status).toBe('needs_approval');
    const token = (asked.structuredContent as any).approval_token;
    sim.world.clock.advance(60);
    await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'host_restart' });
    // Down (exited): not stopped by this server, so its last run is unknown.
    const whileDown = await mcp.call('destroy', { instance_id: id, approval_token: token });
    expect(whileDown.isError).toBe(true);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
    sim.world.clock.advance(120);
    // Back and running: the uptime says the copy predates this run.
    const after = await mcp.call('destroy', { instance_id: id });
    expect(after.isError).toBe(true);
    expect(textOf(after)).toMatch(/no verified copy/);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
  });
});
