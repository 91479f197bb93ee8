import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceIdCompleter } from '../../prompts/completions.js';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

// The owner rule on a shared account (15.3, review finding): who rented an instance through this server
// decides who may change it, run on it or copy from it; teammates may read it; others never see it.
let sim: RunningSimulator;
let mcp: Connected;
let who: AuthInfo | undefined;
let alices: number;
let outside: number;
const as = (user: string, team?: string): AuthInfo => ({
  token: `tok-${user}`,
  clientId: 'c',
  scopes: [],
  extra: { user, ...(team ? { team } : {}) },
});
const data = (r: any) => r.structuredContent as any;
const mutations = () => sim.requests.filter((q) => q.method !== 'GET' && /\/instances\/\d+\/?/.test(q.path)).length;
const ARGS = { gpu_name: 'RTX 4090', hours: 1, disk_gb: 40 };

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'identity-instances-')) }, auth: () => who });
  who = as('alice', 'ml');
  const first = data(await mcp.call('create', ARGS));
  const done = await mcp.call('create', { ...ARGS, confirmation_token: first.confirmation_token });
  expect(done.isError, textOf(done)).toBeFalsy();
  alices = data(done).instances[0].instance_id;
  // Rented on the account but not through this server (the web console, another tool): nobody's here.
  outside = await rentOne(sim);
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('instances of a shared account belong to whoever rented them through this server', () => {
  it("another team's user does not see alice's instance and cannot touch it: every tool answers as for a missing one", async () => {
    who = as('eve', 'ops');
    const before = mutations();
    const listed = data(await mcp.call('status')).instances.map((i: any) => i.id);
    expect(listed).not.toContain(alices);
    expect(listed).not.toContain(outside);
    for (const [tool, args] of [
      ['status', { instance_id: alices }],
      ['logs', { instance_id: alices }],
      ['stop', { instance_id: alices }],
      ['label', { instance_id: alices, label: 'mine-now' }],
      ['reboot', { instance_id: alices }],
      ['ssh', { instance_id: alices, command: 'rm -rf /workspace' }],
      ['copy', { instance_id: alices, direction: 'instance_to_local', remote_path: '/workspace', local_path: 'stolen' }],
      ['destroy', { instance_id: alices, discard: true }],
    ] as const) {
      const r = await mcp.call(tool, args);
      expect(r.isError, `${tool}: ${textOf(r)}`).toBe(true);
      expect(textOf(r), tool).toMatch(new RegExp(`Instance ${alices} does not exist or was destroyed`));
    }
    expect(mutations()).toBe(before);
    expect(sim.world.instances.get(alices)!.destroyedAt).toBeNull();
    expect(sim.world.instances.get(alices)!.label).toMatch(/^alice-/);
  });

  it("a teammate reads alice's instance (status, logs) but may not change it, run on it or copy from it", async () => {
    who = as('bob', 'ml');
    expect(data(await mcp.call('status')).instances.map((i: any) => i.id)).toEqual([alices]);
    expect(data(await mcp.call('status', { instance_id: alices })).instances[0].id).toBe(alices);
    const before = mutations();
    for (const [tool, args] of [
      ['stop', { instance_id: alices }],
      ['label', { instance_id: alices, label: 'bobs' }],
      ['ssh', { instance_id: alices, command: 'true' }],
      ['copy', { instance_id: alices, direction: 'instance_to_local', remote_path: '/workspace', local_path: 'bob' }],
      ['destroy', { instance_id: alices, discard: true }],
      ['bid', { instance_id: alices, price: 0.01 }],
    ] as const) {
      const r = await mcp.call(tool, args);
      expect(r.isError, `${tool}: ${textOf(r)}`).toBe(true);
      expect(textOf(r), tool).toMatch(/rented by another user of your team; you may read it .*Nothing was done/);
    }
    expect(mutations()).toBe(before);
  });

  it("what another team's user is shown of the account: no line, resource or completion of alice's instance", async () => {
    sim.world.clock.advance(2 * 3600);
    who = as('eve', 'ops');
    const b = await mcp.call('billing', { projection_hours: 1 });
    expect(b.isError, textOf(b)).toBeFalsy();
    expect(data(b).per_instance).toEqual([]);
    expect(data(b).invoices.map((l: any) => l.instance_id)).not.toContain(alices);
    expect(JSON.stringify(data(b).invoices)).not.toContain(String(alices));
    expect(textOf(b)).toMatch(/of other users' instances not listed/);
    expect(data(b).totals.charges).toBeGreaterThan(0); // the account's totals stay
    const s = await mcp.call('status');
    expect(textOf(s)).toMatch(/None of your or your team's instances are on this shared account/);
    expect(textOf(s)).not.toMatch(/No instances on this account/);
    const read = await mcp.client.readResource({ uri: `vast-mcp://instances/${alices}/status` }).catch((e: Error) => e);
    expect(String(read)).toMatch(new RegExp(`Instance ${alices} does not exist`));
    // A session eve opens completes only what she may see.
    const eves = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'identity-eve-')) }, auth: () => as('eve', 'ops') });
    const c = await eves.client.complete({ ref: { type: 'ref/prompt', name: 'teardown' }, argument: { name: 'instance_id', value: '' } });
    expect(c.completion.values).toEqual([]);
    await eves.close();
    // The same completer for sessions of alice and bob (her team) on this server offers her instance.
    expect(await instanceIdCompleter(mcp.deps, as('alice', 'ml'))('')).toEqual([String(alices)]);
    expect(await instanceIdCompleter(mcp.deps, as('bob', 'ml'))('')).toEqual([String(alices)]);
    expect(await instanceIdCompleter(mcp.deps, as('eve', 'ops'))('')).toEqual([]);
  });

  it('the renter controls her instance; an instance rented outside this server is nobody’s but the operator’s', async () => {
    who = as('alice', 'ml');
    const r = await mcp.call('label', { instance_id: alices, label: 'alice-renamed' });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(sim.world.instances.get(alices)!.label).toBe('alice-renamed');
    const o = await mcp.call('stop', { instance_id: outside });
    expect(textOf(o)).toMatch(new RegExp(`Instance ${outside} does not exist`));
    expect(sim.world.instances.get(outside)!.destroyedAt).toBeNull();
    who = undefined; // the local (stdio) user who runs the server
    const all = data(await mcp.call('status')).instances.map((i: any) => i.id);
    expect(all).toEqual(expect.arrayContaining([alices, outside]));
    const l = await mcp.call('label', { instance_id: outside, label: 'operator' });
    expect(l.isError, textOf(l)).toBeFalsy();
    expect(sim.world.instances.get(outside)!.label).toBe('operator');
  });
});
