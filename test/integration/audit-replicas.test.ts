import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { closedPort } from '../helpers/ports.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

// Replicas on different hosts (issue 15): one simulator (the platform), one PostgreSQL (VAST_MCP_STORE_URL),
// each replica its own state directory. Who rented what, the stops that date copies and whose spend is whose
// come from every replica's audit records, not from the one the call happens to reach.
let pg: TestPostgres;
let sim: RunningSimulator;
const open: Connected[] = [];
let who: AuthInfo | undefined;

const as = (user: string, team?: string): AuthInfo => ({
  token: `tok-${user}`,
  clientId: 'c',
  scopes: [],
  extra: { user, ...(team ? { team } : {}) },
});
const data = (r: unknown) => (r as { structuredContent: any }).structuredContent;
const mutations = () => sim.requests.filter((q) => q.method !== 'GET' && /\/instances\/\d+\/?/.test(q.path)).length;
const rents = () => sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/')).length;
const ARGS = { gpu_name: 'RTX 4090', hours: 1, max_dph: 0.3, disk_gb: 20 };
const SHA = 'b'.repeat(64);
const BUDGET = `profiles: {}
budgets:
  each_user:
    total_usd: 0.50
`;

async function replica(url: string, config: Record<string, unknown> = {}, profiles?: string): Promise<Connected> {
  const c = await connectInMemory(sim, {
    config: { storeUrl: url, copyRoot: mkdtempSync(join(tmpdir(), 'vast-mcp-audit-replica-')), ...config },
    auth: () => who,
    ...(profiles ? { deps: { profiles: parseProfiles(profiles, 'test.yaml') } } : {}),
  });
  open.push(c);
  return c;
}

/** Alice rents through a replica, with the confirmation a human gives. */
async function rentAs(c: Connected, args: Record<string, unknown> = ARGS): Promise<number> {
  const first = data(await c.call('create', args));
  expect(first?.status).toBe('needs_confirmation');
  const done = await c.call('create', { ...args, confirmation_token: first.confirmation_token });
  expect(done.isError, textOf(done)).toBeFalsy();
  return data(done).instances[0].instance_id;
}

const savedMode = process.env.VAST_MCP_JOBD;
beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  pg = await startTestPostgres();
  sim = await startTestSim();
}, 180_000);
afterEach(() => {
  who = undefined;
});
afterAll(async () => {
  for (const c of open.splice(0)) await c.close();
  await sim?.close();
  await pg?.stop();
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
});

describe('the audit log shared by replicas through PostgreSQL', () => {
  it('an instance alice rented through replica A is hers on replica B: she stops and labels it there; bob is refused', async () => {
    const url = await pg.newDatabase();
    const a = await replica(url);
    const b = await replica(url);
    expect(a.deps.config.stateDir).not.toBe(b.deps.config.stateDir);
    who = as('alice');
    const id = await rentAs(a);

    who = as('bob');
    const before = mutations();
    for (const [tool, args] of [
      ['stop', { instance_id: id }],
      ['label', { instance_id: id, label: 'bobs-now' }],
    ] as const) {
      const r = await b.call(tool, args);
      expect(r.isError, `${tool}: ${textOf(r)}`).toBe(true);
      expect(textOf(r)).toMatch(new RegExp(`Instance ${id} does not exist or was destroyed`));
    }
    expect(data(await b.call('status')).instances.map((i: any) => i.id)).not.toContain(id);
    expect(mutations()).toBe(before);

    who = as('alice');
    const shown = data(await b.call('status', { instance_id: id })).instances[0];
    expect(shown).toMatchObject({ id, rented_by: { user: 'alice', team: null } });
    const label = await b.call('label', { instance_id: id, label: 'alice-renamed' });
    expect(label.isError, textOf(label)).toBeFalsy();
    expect(sim.world.instances.get(id)!.label).toBe('alice-renamed');
    const stop = await b.call('stop', { instance_id: id });
    expect(stop.isError, textOf(stop)).toBeFalsy();
    expect(sim.world.instances.get(id)!.intended).toBe('stopped');
  });

  it('a stop recorded through replica A dates the copies on replica B: a copy made before it still counts', async () => {
    const url = await pg.newDatabase();
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    const a = await replica(url);
    const b = await replica(url);
    await a.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    sim.world.clock.advance(30);
    const stop = await a.call('stop', { instance_id: id });
    expect(stop.isError, textOf(stop)).toBeFalsy();
    sim.world.clock.advance(60);
    const r = await b.call('destroy', { instance_id: id });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(data(r).status).toBe('needs_approval');
    expect(data(r).verified_copies).toEqual([expect.objectContaining({ remote_path: '/workspace/a' })]);
    expect(textOf(r)).toMatch(/stopped by this server/);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
  });

  it('a start through replica B is shared before the platform is asked: even a start that failed voids older copies on A', async () => {
    const url = await pg.newDatabase();
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    const a = await replica(url);
    const b = await replica(url);
    await a.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    sim.world.clock.advance(30);
    expect((await a.call('stop', { instance_id: id })).isError).toBeFalsy();
    sim.world.clock.advance(60);
    const ask = data(await b.call('start', { instance_id: id }));
    expect(ask.status).toBe('needs_confirmation');
    sim.faults.add({ method: 'PUT', path: `^/api/v0/instances/${id}$`, kind: 'error', status: 400, count: 1 });
    const started = await b.call('start', { instance_id: id, confirmation_token: ask.confirmation_token });
    expect(started.isError).toBe(true);
    sim.world.clock.advance(60);
    // On A the copy from before B's (attempted) start no longer counts: when the disk was last written is unknown.
    const r = await a.call('destroy', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/has no verified copy of its results since its last start/);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
  });

  it('a start through a replica whose store is out of reach is refused before the platform is asked', async () => {
    const url = await pg.newDatabase();
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    const a = await replica(url);
    expect((await a.call('stop', { instance_id: id })).isError).toBeFalsy();
    const down = await replica(`postgres://vast:hunter2-store@127.0.0.1:${await closedPort()}/vast`);
    const ask = data(await down.call('start', { instance_id: id }));
    if (ask?.status === 'needs_confirmation') {
      const before = mutations();
      const r = await down.call('start', { instance_id: id, confirmation_token: ask.confirmation_token });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/shared audit log .* cannot be (written|read)/);
      expect(textOf(r)).toMatch(/Nothing was started|Nothing was done/);
      expect(mutations()).toBe(before);
    } else {
      // Refused even earlier (the owner rule cannot be read): nothing was started either.
      const r = await down.call('start', { instance_id: id });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/cannot be (read|reached)/);
      expect(textOf(r)).not.toMatch(/Internal error|hunter2/);
    }
    expect(sim.world.instances.get(id)!.intended).toBe('stopped');
  });

  it("alice's spend through replica A counts against her budget on replica B", async () => {
    const url = await pg.newDatabase();
    const a = await replica(url, {}, BUDGET);
    const b = await replica(url, {}, BUDGET);
    who = as('alice');
    await rentAs(a);
    sim.world.clock.advance(3 * 3600);
    const before = rents();
    const r = await b.call('create', ARGS);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/left of the user "alice" budget/);
    expect(rents()).toBe(before);
    who = as('bob');
    expect(data(await b.call('create', ARGS)).status).toBe('needs_confirmation');
  });

  it('with the store out of reach: destroy stays locked and owner-gated changes are refused, clearly, nothing done', async () => {
    const url = await pg.newDatabase();
    const a = await replica(url);
    who = as('alice');
    const id = await rentAs(a);
    const down = await replica(`postgres://vast:hunter2-store@127.0.0.1:${await closedPort()}/vast`, {}, BUDGET);
    const before = mutations();
    const rentsBefore = rents();
    for (const [tool, args] of [
      ['stop', { instance_id: id }],
      ['label', { instance_id: id, label: 'x' }],
      ['destroy', { instance_id: id, discard: true }],
    ] as const) {
      const r = await down.call(tool, args);
      expect(r.isError, `${tool}: ${textOf(r)}`).toBe(true);
      expect(textOf(r), tool).toMatch(/shared audit log cannot be read/);
      expect(textOf(r), tool).toMatch(/who rented each instance .* is unknown\. Nothing was done/);
      expect(textOf(r), tool).not.toMatch(/Internal error|hunter2|does not exist/);
    }
    // A budget that cannot be told refuses the rental.
    const create = await down.call('create', ARGS);
    expect(create.isError).toBe(true);
    expect(textOf(create)).toMatch(/shared audit log cannot be read.*budget.*Nothing was rented/);
    // The operator (no identity) is not held by the owner rule: the destroy gate itself stays locked.
    who = undefined;
    for (const args of [{ instance_id: id }, { instance_id: id, discard: true }]) {
      const r = await down.call('destroy', args);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/cannot be read/);
      expect(textOf(r)).toMatch(/Nothing was destroyed/);
    }
    // The operator's status still shows the platform's view, and says its annotations are local only.
    const st = await down.call('status', {});
    expect(st.isError, textOf(st)).toBeFalsy();
    expect(data(st).instances.map((i: any) => i.id)).toContain(id);
    expect(textOf(st)).toMatch(/shared audit log cannot be read right now; .*this server's own records only/);
    expect(mutations()).toBe(before);
    expect(rents()).toBe(rentsBefore);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
    // Its records wait in the local file (the outbox).
    expect(down.deps.audit.entries().some((e) => e.tool === 'destroy' && e.result === 'refused')).toBe(true);
  });
});
