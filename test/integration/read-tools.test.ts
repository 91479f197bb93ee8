import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim, TEST_KEY } from '../helpers/sim.js';
import { EXPECTED_TOOLS } from '../helpers/tool-names.js';

let sim: RunningSimulator;
let mcp: Connected;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim);
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('tool surface', () => {
  it('lists exactly the expected tools with annotations derived from their access level', async () => {
    const { tools } = await mcp.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(EXPECTED_TOOLS);
    const access: Record<string, [boolean, boolean, boolean]> = {
      offers: [true, false, true],
      status: [true, false, true],
      billing: [true, false, true],
      logs: [true, false, true],
      ssh: [false, true, false],
      copy: [false, false, false],
      create: [false, false, false],
      start: [false, false, false],
      stop: [false, false, false],
      reboot: [false, false, false],
      label: [false, false, false],
      bid: [false, false, false],
      destroy: [false, true, true],
      job_submit: [false, false, false],
      job_status: [true, false, true],
      job_logs: [true, false, true],
      job_artifacts: [false, false, false],
      job_cancel: [false, false, false],
    };
    for (const t of tools) {
      const [readOnlyHint, destructiveHint, idempotentHint] = access[t.name]!;
      expect(t.annotations).toMatchObject({ readOnlyHint, destructiveHint, idempotentHint, openWorldHint: true });
      expect(t.outputSchema?.type).toBe('object');
      expect(t.description!.length).toBeGreaterThan(80);
    }
  });

  it('sends safety instructions at initialize', () => {
    expect(mcp.client.getInstructions()).toMatch(/stopped instance keeps billing its disk/);
  });
});

describe('offers', () => {
  it('returns offers that satisfy the filters, cheapest first, with projected cost', async () => {
    const r = await mcp.call('offers', {
      gpu_name: 'RTX 4090',
      max_dph: 2,
      min_reliability: 0.9,
      geolocation: ['US', 'CA'],
      disk_gb: 100,
      hours: 10,
      limit: 5,
    });
    expect(r.isError).toBeFalsy();
    const data = r.structuredContent as any;
    expect(data.count).toBeGreaterThan(0);
    expect(data.count).toBeLessThanOrEqual(5);
    const prices = data.offers.map((o: any) => o.dph_total);
    expect(prices).toEqual([...prices].sort((a: number, b: number) => a - b));
    for (const o of data.offers) {
      expect(o.gpu_name).toBe('RTX 4090');
      expect(o.dph_total).toBeLessThanOrEqual(2);
      expect(o.reliability).toBeGreaterThanOrEqual(0.9);
      expect(['US', 'CA']).toContain(o.location.split(', ')[1]);
      expect(o.projection.total_per_hour).toBeCloseTo(o.projection.gpu_per_hour + (o.storage_cost_per_gb_month * 100) / 720, 3);
      expect(o.projection.projected_total).toBeCloseTo(o.projection.total_per_hour * 10, 1);
    }
    expect(data.query_sent.allocated_storage).toBe(100);
    expect(textOf(r)).toMatch(/RTX 4090/);
  });

  it('takes the official query language and reports unknown fields', async () => {
    const r = await mcp.call('offers', { query: 'num_gpus>=4 gpu_ram>=40', sort: 'value', limit: 3 });
    const data = r.structuredContent as any;
    for (const o of data.offers) {
      expect(o.num_gpus).toBeGreaterThanOrEqual(4);
      expect(o.gpu_ram_gb).toBeGreaterThanOrEqual(39);
    }
    // The platform refuses an unknown field (the ignoring reading: fidelity-false-comforts.test.ts).
    const unknown = await mcp.call('offers', { query: 'num_gpus>=4 nickname=x' });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/nickname/);
    const values = data.offers.map((o: any) => o.dlperf_per_dollar);
    expect(values).toEqual([...values].sort((a: number, b: number) => b - a));
  });

  it('prices interruptible offers at the minimum bid', async () => {
    const r = await mcp.call('offers', { interruptible: true, limit: 3, disk_gb: 8 });
    for (const o of (r.structuredContent as any).offers) {
      expect(o.interruptible).toBe(true);
      expect(o.projection.gpu_per_hour).toBeCloseTo(o.min_bid, 4);
    }
  });

  it.each([
    [{ limit: 51 }, /limit/],
    [{ geolocation: ['USA'] }, /geolocation/],
    [{ min_reliability: 2 }, /min_reliability/],
    [{ surprise: true }, /surprise|Unrecognized/i],
    [{ query: 'num_gpus ~ 2' }, /Unknown operator/],
  ])('refuses bad input %j with an error naming the field', async (args, message) => {
    const r = await mcp.call('offers', args);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(message);
  });
});

describe('status', () => {
  it('reports no instances plainly', async () => {
    const r = await mcp.call('status');
    expect((r.structuredContent as any).count).toBe(0);
    expect(textOf(r)).toMatch(/No instances/);
  });

  it('diagnoses loading, running and stopped-but-billing instances with accrued cost', async () => {
    const id = await rentOne(sim);
    sim.world.clock.advance(10);
    let v = ((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0];
    expect(v.diagnosis.code).toBe('loading');
    sim.world.clock.advance(3600);
    v = ((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0];
    expect(v.actual_status).toBe('running');
    expect(v.diagnosis.code).toBe('running');
    expect(v.ssh.direct).toMatch(/^ssh:\/\/root@127\.0\.0\.1:\d+$/);
    expect(v.ssh.proxy).toMatch(/^ssh:\/\/root@127\.0\.0\.1:\d+$/);
    expect(v.uptime_minutes).toBeGreaterThan(30);
    const truth = sim.world.instances.get(id)!.costs;
    expect(v.accrued_cost.gpu).toBeCloseTo(truth.gpu, 3);
    expect(v.accrued_cost.disk).toBeCloseTo(truth.disk, 3);
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    const r = await mcp.call('status', { instance_id: id });
    v = (r.structuredContent as any).instances[0];
    expect(v.diagnosis.code).toBe('stopped_billing_disk');
    expect(v.burn_per_hour.gpu).toBe(0);
    expect(v.burn_per_hour.disk).toBeGreaterThan(0);
    expect(textOf(r)).toMatch(/still billing disk/);
  });

  it('diagnoses an instance stuck scheduling for its GPU', async () => {
    const id = await rentOne(sim);
    sim.world.clock.advance(3600);
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    const machine = sim.world.instances.get(id)!.ask.machine;
    machine.gpusBusyByOthers = machine.gpuTotal;
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'running' });
    const v = ((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0];
    expect(v.diagnosis.code).toBe('scheduling');
    expect(v.diagnosis.summary).toMatch(/Waiting for its GPU/);
    machine.gpusBusyByOthers = 0;
  });

  it('answers a destroyed instance with a clear error', async () => {
    const id = await rentOne(sim);
    await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {});
    const r = await mcp.call('status', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/does not exist or was destroyed/);
  });
});

describe('billing', () => {
  it('shows credit, burn now (stopped disks included), per-instance accrual and a projection', async () => {
    const r = await mcp.call('billing', { projection_hours: 24 });
    expect(r.isError).toBeFalsy();
    const d = r.structuredContent as any;
    const live = sim.world.liveInstances();
    expect(d.per_instance.map((p: any) => p.id).sort()).toEqual(live.map((i) => i.id).sort());
    const expectedBurn = live.reduce((s, i) => s + (i.actual === 'running' ? i.gpuRate : 0) + i.diskRate, 0);
    expect(d.burn_per_hour.total).toBeCloseTo(expectedBurn, 3);
    // Projected at the running price: an instance still loading bills its GPU soon (issue 17 item 14).
    const runningBurn = live.reduce((s, i) => s + (i.intended !== 'stopped' ? i.gpuRate : 0) + i.diskRate, 0);
    expect(d.projection.cost).toBeCloseTo(runningBurn * 24, 1);
    expect(d.credit).toBeCloseTo(sim.world.account.credit, 1);
    expect(d.totals.payments).toBe(250);
    const charged = [...sim.world.instances.values()].reduce((s, i) => s + i.costs.gpu + i.costs.disk, 0);
    expect(d.totals.charges).toBeCloseTo(charged, 2);
  });

  it('refuses a reversed date range with both dates named', async () => {
    const r = await mcp.call('billing', { from: '2026-11-10', to: '2026-11-01' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/must be before/);
  });
});

describe('secrets and errors', () => {
  it('never shows the API key in any result or log line', async () => {
    await mcp.call('billing');
    const all = [...mcp.emitted, ...mcp.logs].join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(TEST_KEY);
  });

  it('explains a rejected key with what to do, and does not echo the key', async () => {
    const bad = await connectInMemory(sim, { key: 'WRONGKEY-0000-1111-2222' });
    try {
      const r = await bad.call('status');
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/rejected the API key.*VAST_API_KEY/);
      expect(JSON.stringify(r) + bad.logs.join('')).not.toContain('WRONGKEY-0000-1111-2222');
    } finally {
      await bad.close();
    }
  });

  it('explains a missing key', async () => {
    const none = await connectInMemory(sim, { key: null });
    try {
      const r = await none.call('offers');
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/No Vast API key is configured/);
    } finally {
      await none.close();
    }
  });

  it('marks every answer as simulated in sandbox mode', async () => {
    const sb = await connectInMemory(sim, { config: { simulated: true } });
    try {
      const r = await sb.call('offers', { limit: 1 });
      expect((r.structuredContent as any).simulated).toBe(true);
      expect(textOf(r)).toMatch(/^\[SIMULATED/);
    } finally {
      await sb.close();
    }
  });
});

describe('fidelity: what the real platform does (fidelity audit)', () => {
  it('excludes offers whose maximum rental is shorter than the requested hours', async () => {
    const r = await mcp.call('offers', { gpu_name: 'RTX 4090', hours: 24 * 120, limit: 20 });
    const data = r.structuredContent as any;
    expect(data.query_sent.duration).toEqual({ gte: 24 * 120 * 3600 });
    for (const o of data.offers) expect(o.max_hours).toBeGreaterThanOrEqual(24 * 120);
  });

  it('shows the rental end, hours left and a warning when less than a day is left', async () => {
    const id = await rentOne(sim);
    const inst = sim.world.instances.get(id)!;
    inst.endDate = sim.world.now() + 5 * 3600;
    const v = ((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0];
    expect(v.end_date).toBe(new Date(inst.endDate * 1000).toISOString());
    expect(v.hours_left).toBeCloseTo(5, 0);
    expect(v.warnings.join(' ')).toMatch(/ends in 5\.0 h/);
    const b = (await mcp.call('billing', {})).structuredContent as any;
    expect(b.warnings.join(' ')).toMatch(new RegExp(`#${id}`));
    await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {});
  });

  it('diagnoses an interrupted bid instance (dstack signature) and a failed image pull', async () => {
    const bid = await rentOne(sim, { price: 5 });
    const bad = await rentOne(sim, { image: 'no-such-registry.invalid/nope:tag' });
    sim.world.clock.advance(900);
    await simFetch(sim, 'POST', `/_sim/instances/${bid}/fault`, { kind: 'outbid' });
    const views = ((await mcp.call('status', {})).structuredContent as any).instances;
    expect(views.find((v: any) => v.id === bid).diagnosis.code).toBe('interrupted');
    expect(views.find((v: any) => v.id === bad).diagnosis.code).toBe('pull_failed');
    for (const id of [bid, bad]) await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {});
  });

  it('reads a bid instance stopped through this server as a user stop, not an interruption', async () => {
    const id = await rentOne(sim, { price: 5 });
    sim.world.clock.advance(900);
    const stop = await mcp.call('stop', { instance_id: id });
    expect(stop.isError, textOf(stop)).toBeFalsy();
    const v = ((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0];
    expect(v.diagnosis.code).toBe('stopped_billing_disk');
    await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {});
  });

  it('restarts an exited instance with reboot, and start no longer answers "already running" for it', async () => {
    const id = await rentOne(sim);
    sim.world.clock.advance(900);
    await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'exited' });
    const s = await mcp.call('start', { instance_id: id });
    expect((s.structuredContent as any).status).toBe('needs_confirmation');
    const r = await mcp.call('reboot', { instance_id: id });
    expect((r.structuredContent as any).status).toBe('done');
    sim.world.clock.advance(60);
    expect(((await mcp.call('status', { instance_id: id })).structuredContent as any).instances[0].actual_status).toBe('running');
    await simFetch(sim, 'DELETE', `/api/v0/instances/${id}/`, {});
  });

  it('reads odd field shapes (numeric strings, padded strings, null port entries) without failing', async () => {
    const odd = await startTestSim({ fidelity: { oddShapes: true } });
    const c = await connectInMemory(odd);
    try {
      const id = await rentOne(odd);
      odd.world.clock.advance(900);
      const r = await c.call('status', { instance_id: id });
      expect(r.isError, textOf(r)).toBeFalsy();
      const v = (r.structuredContent as any).instances[0];
      expect(v.ssh.direct).toMatch(/^ssh:\/\/root@127\.0\.0\.1:\d+$/);
      // /users/current with balance only (DOC show_user.yaml): billing reads it as the credit.
      const b = await c.call('billing', {});
      expect(b.isError, textOf(b)).toBeFalsy();
      expect((b.structuredContent as any).credit).toBeGreaterThan(0);
    } finally {
      await c.close();
      await odd.close();
    }
  });
});

describe('with the platform rate limits on and pacing on (the realistic default)', () => {
  it('runs offers, status, billing and logs without a 429 reaching the user', async () => {
    const limited = await startTestSim({ rateLimits: true });
    const c = await connectInMemory(limited, { config: { pacing: true } });
    try {
      const id = await rentOne(limited);
      for (const [tool, args] of [
        ['offers', { limit: 2 }],
        ['offers', { limit: 3 }],
        ['status', {}],
        ['status', { instance_id: id }],
        ['status', { instance_id: id }],
        ['billing', {}],
        ['logs', { instance_id: id }],
      ] as const) {
        const r = await c.call(tool, args);
        expect(
          r.isError,
          `${tool}: ${textOf(r)} ${c.logs
            .filter((l) => /error/i.test(l))
            .slice(-3)
            .join(' ')}`,
        ).toBeFalsy();
      }
      expect(limited.rateLimitHits()).toBe(0);
    } finally {
      await c.close();
      await limited.close();
    }
  }, 60_000);
});
