import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(async () => {
  await sim.close();
});

describe('simulator: conventions', () => {
  it('rejects a missing or wrong key with 401 auth_error and a msg', async () => {
    for (const key of [null, 'wrong-key-123456']) {
      const r = await simFetch(sim, 'GET', '/api/v0/users/current', undefined, key);
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ success: false, error: 'auth_error', msg: 'Invalid user key' });
    }
  });

  it('accepts the key as ?api_key= like older CLIs', async () => {
    const res = await fetch(`${sim.url}/api/v0/users/current?api_key=${encodeURIComponent(sim.world.account.apiKey)}&owner=me`);
    expect(res.status).toBe(200);
    expect((await res.json()).username).toBe('ada');
  });

  it('answers searches with exactly application/json and accepts both slash forms', async () => {
    const a = await simFetch(sim, 'POST', '/api/v0/bundles/', { limit: 3 });
    const b = await simFetch(sim, 'POST', '/api/v0/bundles', { limit: 3 });
    expect(a.contentType).toBe('application/json');
    expect(a.json.offers.map((o: { id: number }) => o.id)).toEqual(b.json.offers.map((o: { id: number }) => o.id));
  });

  it('records unknown routes with a 404 msg', async () => {
    const r = await simFetch(sim, 'GET', '/api/v0/no/such/thing/');
    expect(r.status).toBe(404);
    expect(r.json.msg).toMatch(/No such API route/);
    expect(sim.requests.some((q) => q.unexpected && q.path === '/api/v0/no/such/thing')).toBe(true);
  });

  it('serves gpu names without auth', async () => {
    const r = await simFetch(sim, 'GET', '/api/v0/gpu_names/unique/', undefined, null);
    expect(r.json.gpu_names).toContain('RTX 4090');
  });
});

describe('simulator: offer search', () => {
  it('filters with numeric strings, lists and several ops per field', async () => {
    const r = await simFetch(sim, 'POST', '/api/v0/bundles/', {
      num_gpus: { gte: '2', lte: '4' },
      geolocation: { in: ['US', 'CA'] },
      reliability: { gt: '0.95' },
      rented: { eq: false },
      limit: 500,
    });
    expect(r.json.offers.length).toBeGreaterThan(5);
    for (const o of r.json.offers) {
      expect(o.num_gpus).toBeGreaterThanOrEqual(2);
      expect(o.num_gpus).toBeLessThanOrEqual(4);
      expect(['US', 'CA']).toContain(o.geolocation.split(', ')[1]);
      expect(o.reliability).toBeGreaterThan(0.95);
      expect(o.rented).toBe(false);
    }
  });

  it('prices allocated_storage into dph_total and keeps the documented identities', async () => {
    const r = await simFetch(sim, 'POST', '/api/v0/bundles/', { limit: 20, allocated_storage: 100 });
    for (const o of r.json.offers) {
      expect(o.dph_total).toBeCloseTo(o.dph_base + (o.storage_cost * 100) / 720, 9);
      expect(o.dlperf_per_dphtotal).toBeCloseTo(o.dlperf / o.dph_total, 9);
      expect(typeof o.gpu_ram).toBe('number');
    }
  });

  it('orders as asked and honours limit', async () => {
    const r = await simFetch(sim, 'POST', '/api/v0/bundles/', { order: [['dph_total', 'asc']], limit: 15 });
    const prices = r.json.offers.map((o: { dph_total: number }) => o.dph_total);
    expect(prices).toHaveLength(15);
    expect(prices).toEqual([...prices].sort((a: number, b: number) => a - b));
  });

  it('prices bid searches at the minimum bid', async () => {
    const r = await simFetch(sim, 'POST', '/api/v0/bundles/', { type: 'interruptible', limit: 5, allocated_storage: 0 });
    for (const o of r.json.offers) {
      expect(o.is_bid).toBe(true);
      expect(o.dph_total).toBeCloseTo(o.min_bid, 9);
    }
  });

  it('compares packed driver versions', async () => {
    const r = await simFetch(sim, 'POST', '/api/v0/bundles/', { driver_version: { gte: 570000000 }, limit: 50 });
    expect(r.json.offers.length).toBeGreaterThan(0);
    for (const o of r.json.offers) expect(Number(o.driver_version.split('.')[0])).toBeGreaterThanOrEqual(570);
  });

  it('rejects an unknown operator with 400 and a msg', async () => {
    const r = await simFetch(sim, 'POST', '/api/v0/bundles/', { num_gpus: { about: 2 } });
    expect(r.status).toBe(400);
    expect(r.json.msg).toMatch(/Unknown operator about/);
  });

  it('is deterministic for a seed', async () => {
    const other = await startTestSim();
    try {
      const a = await simFetch(sim, 'POST', '/api/v0/bundles/', { limit: 10, rented: { eq: false } });
      const b = await simFetch(other, 'POST', '/api/v0/bundles/', { limit: 10, rented: { eq: false } });
      expect(b.json.offers.map((o: { id: number }) => o.id)).toEqual(a.json.offers.map((o: { id: number }) => o.id));
    } finally {
      await other.close();
    }
  });
});

describe('simulator: instances', () => {
  it('creates, walks provisioning → loading → running, and bills GPU only while running', async () => {
    const id = await rentOne(sim);
    const show = async () => (await simFetch(sim, 'GET', `/api/v0/instances/${id}/?owner=me`)).json.instances;
    let row = await show();
    expect(row.actual_status).toBeNull();
    expect(typeof row.start_date).toBe('number');
    expect(row.ports).toEqual({}); // not running: {} (the old null crashed vast.py ssh-url; fidelity portsWhenDown)
    sim.world.clock.advance(9);
    expect((await show()).actual_status).toBe('loading');
    const inst = sim.world.instances.get(id)!;
    expect(inst.costs.gpu).toBe(0);
    expect(inst.costs.disk).toBeGreaterThan(0);
    sim.world.clock.advance(400);
    row = await show();
    expect(row.actual_status).toBe('running');
    expect(typeof row.ports['22/tcp'][0].HostPort).toBe('string');
    const gpuBefore = inst.costs.gpu;
    expect(gpuBefore).toBeGreaterThan(0);
    // Stopped: GPU stops billing, disk does not.
    expect((await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).json.success).toBe(true);
    const diskAtStop = inst.costs.disk;
    // Read at the stop itself: the clock runs at 1× between the requests above.
    const gpuAtStop = inst.costs.gpu;
    sim.world.clock.advance(3600);
    row = await show();
    expect(row.actual_status).toBe('stopped');
    expect(inst.costs.gpu).toBeCloseTo(gpuAtStop, 6);
    expect(inst.costs.disk - diskAtStop).toBeCloseTo(inst.diskRate, 6);
  });

  it('pages the v1 list by 25 with next_token', async () => {
    for (let i = 0; i < 27; i++) await rentOne(sim, { label: `bulk-${i}` });
    const ids: number[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const q = new URLSearchParams({ select_filters: '{}', order_by: '[{"col":"id","dir":"asc"}]', limit: '25' });
      if (token) q.set('after_token', token);
      const r = await simFetch(sim, 'GET', `/api/v1/instances/?${q}`);
      expect(r.json.instances.length).toBeLessThanOrEqual(25);
      ids.push(...r.json.instances.map((x: { id: number }) => x.id));
      token = r.json.next_token;
      pages++;
    } while (token);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(new Set(ids).size).toBe(sim.world.liveInstances().length);
    const bad = await simFetch(sim, 'GET', '/api/v1/instances/?after_token=garbage');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_token');
  });

  it('destroys, answers a repeat with 404 no_such_instance (DOC destroy_instance.yaml; dstack api_client.py:112) and then shows {"instances": null}', async () => {
    const id = await rentOne(sim);
    expect((await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {})).json.success).toBe(true);
    const again = await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {});
    expect(again.status).toBe(404);
    expect(again.json.error).toBe('no_such_instance');
    expect((await simFetch(sim, 'GET', `/api/v0/instances/${id}/`)).json).toEqual({ instances: null });
    expect((await simFetch(sim, 'DELETE', '/api/v0/instances/999/', {})).status).toBe(404);
  });

  it('answers an unknown ask with the documented 404 invalid_args and a taken one with 410 under cancel_unavail (DOC create_instance.yaml:221-265)', async () => {
    const none = await simFetch(sim, 'PUT', '/api/v0/asks/1/', { image: 'x', disk: 10 });
    expect(none.status).toBe(404);
    expect(none.json.error).toBe('invalid_args');
    expect(none.json.msg).toMatch(/^error 404\/3603: no_such_ask/);
    const ask = sim.world.market.asks.find((a) => !sim.world.askAvailable(a))!;
    const taken = await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, { image: 'x', disk: 10, cancel_unavail: true });
    expect(taken.status).toBe(410);
    expect(taken.json.error).toBe('no_such_ask');
    expect(taken.json.msg).toMatch(/^error 410\/3907/);
  });

  it('validates create bodies (disk, label, onstart, ports)', async () => {
    const ask = sim.world.market.asks.find((a) => sim.world.askAvailable(a))!;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ image: 'x', disk: 4 }, /at least 8/],
      [{ image: 'x', disk: 10, label: 'l'.repeat(257) }, /longer than 256/],
      [{ image: 'x', disk: 10, onstart: 'a'.repeat(16385) }, /gzip/],
      [{ image: 'x', disk: 10, env: { '-p 80;rm': '1' } }, /invalid port mapping/],
      [{ disk: 10 }, /image is required/],
    ];
    for (const [body, msg] of cases) {
      const r = await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, body);
      expect(r.status).toBe(400);
      expect(r.json.msg).toMatch(msg);
    }
  });

  it('stops everything and schedules deletion when the balance runs out', async () => {
    const s = await startTestSim({ startingCredit: 2 });
    s.world.account.cardOnFile = false; // with a card on file nothing is deleted (fidelity-false-comforts.test.ts)
    try {
      const id = await rentOne(s);
      s.world.clock.advance(400);
      s.world.tick();
      expect(s.world.instances.get(id)!.actual).toBe('running');
      s.world.clock.advance(3600 * 24);
      s.world.tick();
      const inst = s.world.instances.get(id)!;
      expect(inst.actual).toBe('stopped');
      expect(inst.statusMsg).toMatch(/Insufficient balance/);
      expect(s.world.account.deletionScheduledAt).not.toBeNull();
      s.world.clock.advance(86400 + 1);
      s.world.tick();
      expect(inst.destroyedAt).not.toBeNull();
    } finally {
      await s.close();
    }
  });

  it('serves logs through a result_url that answers 403 + S3 XML until ready (DOC logs.yaml:60)', async () => {
    const id = await rentOne(sim);
    const r = await simFetch(sim, 'PUT', `/api/v0/instances/request_logs/${id}/`, { tail: '10' });
    expect(r.json.result_url).toMatch(new RegExp(`^${sim.url}/result/`));
    const early = await fetch(r.json.result_url);
    expect(early.status).toBe(403);
    expect(await early.text()).toMatch(/<Code>AccessDenied<\/Code>/);
    await new Promise((res) => setTimeout(res, 80));
    const late = await fetch(r.json.result_url);
    expect(late.status).toBe(200);
    expect(await late.text()).toMatch(`instance ${id} created`);
  });
});
