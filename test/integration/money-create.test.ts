import { beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RunningSimulator } from '../../sim/server.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
const connect = env.connect;
beforeEach(() => {
  sim = env.sim();
});

const live = () => sim.world.liveInstances();
const ARGS = { gpu_name: 'RTX 4090', disk_gb: 40, hours: 5 };
const PUTS = () => sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'));
const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('a rental is never reported as "nothing happened" (11.1)', () => {
  it('a wait that fails after the rent still names the instance as rented and billing', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.faults.add({
      method: 'GET',
      path: '^/api/v0/instances',
      kind: 'error',
      status: 401,
      body: '{"error":"auth_error","msg":"bad key"}',
      count: 1000,
    });
    const r = await mcp.call('create', { ...ARGS, wait: true, wait_timeout_seconds: 30, confirmation_token: p.confirmation_token });
    sim.faults.clear();
    expect(r.isError).toBeFalsy();
    const c = r.structuredContent as any;
    const id = live()[0]!.id;
    expect(c.billing_started).toBe(true);
    expect(c.instances[0].instance_id).toBe(id);
    expect(c.instances[0].diagnosis).toMatch(/Waiting failed .*IS rented and billing/);
    expect(textOf(r)).toMatch(new RegExp(`RENTED AND BILLING: #${id}`));
  });

  it('when the second of two rentals fails, the first is reported as rented and billing', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', { ...ARGS, count: 2 })).structuredContent as any;
    sim.faults.add({
      method: 'PUT',
      path: `^/api/v0/asks/${p.quote[1].offer_id}$`,
      kind: 'error',
      status: 400,
      body: '{"success":false,"error":"invalid_args","msg":"bad"}',
      count: 5,
    });
    const r = await mcp.call('create', { ...ARGS, count: 2, confirmation_token: p.confirmation_token });
    expect(r.isError).toBeFalsy();
    const c = r.structuredContent as any;
    expect(c.status).toBe('partially_created');
    expect(live()).toHaveLength(1);
    expect(c.instances.map((i: any) => i.instance_id)).toEqual([live()[0]!.id]);
    expect(c.next_step).toMatch(/Do NOT call create again/);
  });
});

describe('any tool, after the platform accepted a change (11.1)', () => {
  it('start whose re-read fails still reports the start as done, not an error', async () => {
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    const mcp = await connect();
    await mcp.call('stop', { instance_id: id });
    const token = ((await mcp.call('start', { instance_id: id })).structuredContent as any).confirmation_token;
    const real = mcp.deps.vast.requireInstance.bind(mcp.deps.vast);
    let reads = 0;
    mcp.deps.vast.requireInstance = async (n: number) => {
      if (++reads > 1) throw new Error('connection reset');
      return real(n);
    };
    const r = await mcp.call('start', { instance_id: id, confirmation_token: token });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as any).status).toBe('done');
    expect(textOf(r)).toMatch(/change was accepted; re-reading the instance failed/);
    expect(sim.world.instances.get(id)!.intended).toBe('running');
  });
});

describe('an unwritable state directory fails closed (11.2)', () => {
  it('refuses before renting when the state directory is gone (replaced by a file)', async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    rmSync(mcp.deps.config.stateDir, { recursive: true, force: true });
    writeFileSync(mcp.deps.config.stateDir, 'not a directory');
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/cannot be written.*Nothing was done on the platform/s);
    expect(live()).toHaveLength(0);
    expect(PUTS()).toHaveLength(0);
  });

  it('when recording fails after the rent, the result says what happened on the platform', async () => {
    const mcp = await connect();
    const record = mcp.deps.audit.record.bind(mcp.deps.audit);
    mcp.deps.audit.record = (e) => {
      if (e.action === 'rent' && e.result === 'ok') throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      record(e);
    };
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    const c = r.structuredContent as any;
    expect(c.status).toBe('created');
    expect(c.warnings.join(' ')).toMatch(
      new RegExp(`audit log could not record this \\(ENOSPC\\)\\. On the platform: instance #${live()[0]!.id} .*rented .*billing`),
    );
  });

  it('refuses destroy when the state directory cannot be written', async () => {
    const id = await rentOne(sim);
    const mcp = await connect();
    const token = ((await mcp.call('destroy', { instance_id: id, discard: true })).structuredContent as any).approval_token;
    rmSync(mcp.deps.config.stateDir, { recursive: true, force: true });
    writeFileSync(mcp.deps.config.stateDir, 'x');
    const r = await mcp.call('destroy', { instance_id: id, discard: true, approval_token: token });
    expect(r.isError).toBe(true);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
  });
});

describe('recording failures after a mutation say what happened (11.2)', () => {
  it('a destroy whose audit record fails is still reported as destroyed, with the warning', async () => {
    const id = await rentOne(sim);
    const mcp = await connect();
    const token = ((await mcp.call('destroy', { instance_id: id, discard: true })).structuredContent as any).approval_token;
    mcp.deps.audit.record = () => {
      throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
    };
    const r = await mcp.call('destroy', { instance_id: id, discard: true, approval_token: token });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ status: 'destroyed', verified_final_state: 'gone' });
    expect(textOf(r)).toMatch(/audit log could not record this \(EROFS\)\. On the platform: instance \d+ was destroyed/);
  });
});

describe('no double rental from a late commit (11.3)', () => {
  it('finds a create committed after the answer was lost when the look-ups span the commit window', async () => {
    const mcp = await connect({ config: { createCommitWindowMs: 1500 }, deps: { sleep: realSleep } });
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 400, count: 1 });
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    const c = r.structuredContent as any;
    expect(c.status).toBe('created');
    expect(c.instances[0].reconciled).toBe(true);
    expect(live()).toHaveLength(1);
    expect(PUTS()).toHaveLength(1);
  });

  it('a commit later than the window: the duplicate is found on the next status, stopped and listed for the user', async () => {
    const mcp = await connect({ config: { createCommitWindowMs: 10 } });
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 600, count: 1 });
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    const rented = (r.structuredContent as any).instances[0].instance_id;
    await realSleep(900);
    expect(live()).toHaveLength(2);
    const s = await mcp.call('status', {});
    const late = (s.structuredContent as any).late_rentals;
    const dup = live().find((i) => i.id !== rented)!;
    expect(late).toEqual([{ instance_id: dup.id, label: dup.label, stopped: true }]);
    expect(dup.intended).toBe('stopped');
    expect(textOf(s)).toMatch(/DUPLICATE RENTAL found: #\d+ .*ask whether to destroy/);
    const b = await mcp.call('billing', {});
    expect((b.structuredContent as any).late_rentals.map((l: any) => l.instance_id)).toEqual([dup.id]);
  });

  it('a create still in flight owns its markers: another session (or replica) listing first does not stop its rental', async () => {
    const mcp = await connect();
    const label = 'vast-user-inflight-7f3a';
    // The order of a real create: the marker is recorded, then the platform commits, and the outcome is recorded last.
    mcp.deps.audit.record({ tool: 'create', action: 'rent_attempt', args: { offer_id: 1, label, attempt: 1 }, result: 'pending' });
    const id = await rentOne(sim, { label });
    const during = (await mcp.call('status', {})).structuredContent as any;
    expect(during.late_rentals).toBeUndefined();
    expect(sim.world.instances.get(id)!.intended).not.toBe('stopped');
    // The create gave up (its outcome recorded): the same instance is now a late rental, stopped and listed.
    mcp.deps.audit.record({ tool: 'create', action: 'rent', args: { offer_id: 1, label }, result: 'error', detail: { error: 'timed out' } });
    const after = (await mcp.call('status', {})).structuredContent as any;
    expect(after.late_rentals).toEqual([{ instance_id: id, label, stopped: true }]);
    expect(sim.world.instances.get(id)!.intended).toBe('stopped');
  });

  it('a marker whose create never recorded an outcome (its server died mid-create) counts as late once far past the window', async () => {
    const mcp = await connect({ config: { createCommitWindowMs: 10 } });
    const label = 'vast-user-orphaned-9c1d';
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    appendFileSync(
      mcp.deps.audit.path,
      `${JSON.stringify({ at: old, pid: 1, tool: 'create', action: 'rent_attempt', actor: null, args: { offer_id: 1, label, attempt: 1 }, result: 'pending' })}\n`,
    );
    const id = await rentOne(sim, { label });
    const s = (await mcp.call('status', {})).structuredContent as any;
    expect(s.late_rentals).toEqual([{ instance_id: id, label, stopped: true }]);
  });

  it("reads a rental reported inside a failed create's error body as rented", async () => {
    const mcp = await connect();
    const p = (await mcp.call('create', ARGS)).structuredContent as any;
    sim.faults.add({
      method: 'PUT',
      path: '^/api/v0/asks/\\d+$',
      kind: 'error',
      status: 400,
      body: '{"success":false,"error":"soft","new_contract":424242}',
      count: 1,
    });
    const r = await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token });
    const c = r.structuredContent as any;
    expect(c.billing_started).toBe(true);
    expect(c.instances[0]).toMatchObject({ instance_id: 424242, reconciled: true });
  });
});

describe('the price shown is the price rented (11.4)', () => {
  it('never quotes an offer that cannot hold the requested disk', async () => {
    const mcp = await connect();
    const big = 600;
    const diskOf = (id: number) => {
      const a = sim.world.market.byId.get(id)!;
      return Math.round((a.machine.diskSpaceGb * a.numGpus) / a.machine.gpuTotal);
    };
    const p = (await mcp.call('create', { ...ARGS, disk_gb: big, count: 3 })).structuredContent as any;
    expect(p.quote).toHaveLength(3);
    for (const q of p.quote) expect(diskOf(q.offer_id)).toBeGreaterThanOrEqual(big);
  });

  it('an edit to count re-prices and asks again; declining the new total rents nothing', async () => {
    const seen: any[] = [];
    const mcp = await connect({
      onElicit: (params) => {
        seen.push(params);
        return seen.length === 1 ? { action: 'accept', content: { confirm: true, count: 3 } } : { action: 'decline' };
      },
    });
    const r = await mcp.call('create', ARGS);
    expect((r.structuredContent as any).status).toBe('declined');
    expect(seen).toHaveLength(2);
    expect(seen[1].message).toMatch(/Proposal to rent 3 instance\(s\)/);
    expect(live()).toHaveLength(0);
  });
});
