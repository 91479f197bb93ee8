import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

describe('simulator faults', () => {
  it('rate-limits an endpoint per key with a plain-text 429 and no Retry-After', async () => {
    sim = await startTestSim({ rateLimits: true });
    const id = await rentOne(sim);
    const first = await fetch(`${sim.url}/api/v0/instances/${id}/`, { headers: { authorization: `Bearer ${sim.world.account.apiKey}` } });
    const second = await fetch(`${sim.url}/api/v0/instances/${id}/`, { headers: { authorization: `Bearer ${sim.world.account.apiKey}` } });
    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeNull();
    expect(await second.text()).toBe('API requests too frequent');
    expect(sim.rateLimitHits()).toBe(1);
  });

  it('fires probabilistic faults the same way for the same seed', async () => {
    const pattern = async () => {
      const s = await startTestSim({ faults: '503:0.3', seed: 'same' });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await simFetch(s, 'GET', '/api/v0/users/current')).status);
      await s.close();
      return statuses;
    };
    const a = await pattern();
    expect(a.filter((x) => x === 503).length).toBeGreaterThan(4);
    expect(a.filter((x) => x === 503).length).toBeLessThan(25);
    expect(await pattern()).toEqual(a);
  });

  it('the client rides out 429s and 503s on reads', async () => {
    sim = await startTestSim({ faults: '503:0.2,429:0.2', seed: 'ride' });
    const mcp = await connectInMemory(sim);
    try {
      for (let i = 0; i < 5; i++) {
        const r = await mcp.call('offers', { limit: 2 });
        expect(r.isError, textOf(r)).toBeFalsy();
      }
      expect(sim.faults.fired.length).toBeGreaterThan(0);
    } finally {
      await mcp.close();
    }
  }, 60_000);

  it.each([
    // The realistic signature (dstack compute.py 209-216) and the docs' "paused" reading.
    ['outbid', 'interrupted', /interrupted \(outbid/],
    ['outbid_resumable', 'outbid', /outbid/],
    ['created_error', 'start_failed', /failed to start/],
    ['pull_failed', 'pull_failed', /could not be pulled/],
    ['unknown', 'no_heartbeat', /no heartbeat/],
    ['frozen', 'frozen', /BILLED/],
    ['offline', 'offline', /host is offline/],
    ['exited', 'exited', /container exited/],
  ])('an instance fault %s is diagnosed and closes SSH', async (kind, code, summary) => {
    sim = await startTestSim();
    const id = await rentOne(sim, { price: 5 });
    sim.world.clock.advance(600);
    await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind });
    const mcp = await connectInMemory(sim);
    try {
      const v = ((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0];
      expect(v.diagnosis.code).toBe(code);
      expect(v.diagnosis.summary).toMatch(summary);
      const ssh = await mcp.call('ssh', { instance_id: id, readiness_seconds: 0 });
      expect(ssh.isError).toBe(true);
      expect(textOf(ssh)).toMatch(/not running/);
    } finally {
      await mcp.close();
    }
  });
});
