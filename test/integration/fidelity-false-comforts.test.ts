import { afterEach, describe, expect, it } from 'vitest';
import type { FidelityOptions } from '../../sim/fidelity.js';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

/**
 * The simulator's last "false comforts" (fidelity audit §3) removed, each with the other reading
 * kept behind an option, and the client checked against both.
 */
let sim: RunningSimulator | null = null;
let mcp: Connected | null = null;
afterEach(async () => {
  await mcp?.close();
  await sim?.close();
  mcp = null;
  sim = null;
});

async function start(fidelity: Partial<FidelityOptions> = {}, credit?: number): Promise<{ sim: RunningSimulator; mcp: Connected }> {
  sim = await startTestSim({ fidelity, ...(credit !== undefined ? { startingCredit: credit } : {}) });
  mcp = await connectInMemory(sim);
  return { sim, mcp };
}

const search = (s: RunningSimulator, body: Record<string, unknown>) =>
  simFetch(s, 'POST', '/api/v0/bundles/', { limit: 5000, allocated_storage: 10, ...body });

describe('`rented` is about the caller, and the server drops the key (DOC search_offers.yaml)', () => {
  it('lists an offer on a machine where the caller rents GPUs as rented, and never offers GPUs other tenants hold', async () => {
    const { sim: s, mcp: m } = await start();
    const multi = s.world.market.asks.find(
      (a) => a.numGpus === 1 && a.machine.gpuTotal >= 4 && a.machine.listed && a.machine.gpusBusyByOthers === 0,
    )!;
    await simFetch(s, 'PUT', `/api/v0/asks/${multi.id}/`, { client_id: 'me', image: 'pytorch/pytorch', disk: 10, runtype: 'ssh' });
    const mine = (await search(s, { id: { eq: multi.id }, rented: { eq: false } })).json.offers;
    expect(mine).toHaveLength(1);
    expect(mine[0].rented).toBe(true);
    // The client filters rows itself, as vast.py does.
    expect(await m.deps.vast.searchOffers({ id: { eq: multi.id }, rented: { eq: false }, allocated_storage: 10 })).toEqual([]);
    const other = s.world.market.asks.find((a) => a.machine.machineId !== multi.machine.machineId && a.machine.listed)!;
    other.machine.gpusBusyByOthers = other.machine.gpuTotal;
    // `rented=any` (the key removed): still not listed, and never flagged as rented by someone else.
    expect((await search(s, { id: { eq: other.id } })).json.offers).toEqual([]);
  });
});

describe('unknown search fields', () => {
  it('are refused with the documented 400 for a bad query, and the offers tool says which field', async () => {
    const { sim: s, mcp: m } = await start();
    const r = await search(s, { gpu_nmae: { eq: 'RTX 4090' } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: 'invalid_request' });
    expect(r.json.msg).toMatch(/gpu_nmae/);
    const t = await m.call('offers', { query: 'gpu_nmae=RTX_4090' });
    expect(t.isError).toBe(true);
    expect(textOf(t)).toMatch(/gpu_nmae/);
  });

  it.each(['reject', 'ignore'] as const)('never lead to a rental (platform %ss them)', async (unknownSearchFields) => {
    const { sim: s, mcp: m } = await start({ unknownSearchFields });
    const r = await m.call('create', { query: 'gpu_nmae=RTX_4090', disk_gb: 20, hours: 1 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Unrecognized field gpu_nmae.*Nothing was rented/s);
    expect(s.world.liveInstances()).toHaveLength(0);
    if (unknownSearchFields === 'ignore') {
      const o = await m.call('offers', { query: 'gpu_nmae=RTX_4090' });
      expect(textOf(o)).toMatch(/Unrecognized field gpu_nmae/);
    }
  });
});

describe('`ports` of an instance that is not running', () => {
  it.each(['empty_object', 'null'] as const)('reads %s and status still works', async (portsWhenDown) => {
    const { sim: s, mcp: m } = await start({ portsWhenDown });
    const id = await rentOne(s);
    await simFetch(s, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    const row = (await simFetch(s, 'GET', `/api/v0/instances/${id}/?owner=me`)).json.instances;
    expect(row.ports).toEqual(portsWhenDown === 'null' ? null : {});
    const st = await m.call('status', { instance_id: id });
    expect(st.isError, textOf(st)).toBeFalsy();
    expect(textOf(st)).toMatch(/stopped/i);
  });
});

describe('a create the credit cannot pay for', () => {
  it('is rented by the platform (no documented create-time check) and stopped at $0', async () => {
    const { sim: s } = await start({}, 0.001);
    const id = await rentOne(s);
    s.world.clock.advance(600);
    s.world.tick();
    expect(s.world.instances.get(id)!.actual).toBe('stopped');
    expect(s.world.instances.get(id)!.statusMsg).toMatch(/Insufficient balance/);
  });

  it('answers 411 under the other reading', async () => {
    const { sim: s } = await start({ createCreditCheck: '411' }, 0.001);
    await expect(rentOne(s)).rejects.toThrow();
  });

  it.each(['none', '411'] as const)('is refused by the server before anything is rented (platform check: %s)', async (createCreditCheck) => {
    const { sim: s, mcp: m } = await start({ createCreditCheck }, 0.01);
    const r = await m.call('create', { gpu_name: 'RTX 4090', disk_gb: 20, hours: 1 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/credit \(\$0\.01\) does not cover one hour.*Nothing was rented/s);
    expect(s.world.instances.size).toBe(0);
  });
});

describe('a card on file at $0 (DOC guides/reference/billing.mdx, Negative Balances)', () => {
  it('stops the instances, charges the card, and deletes nothing', async () => {
    const { sim: s } = await start({}, 2);
    const id = await rentOne(s);
    s.world.clock.advance(3600 * 24 * 3);
    s.world.tick();
    s.world.clock.advance(3600 * 24 * 3);
    s.world.tick();
    const inst = s.world.instances.get(id)!;
    expect(inst.actual).toBe('stopped');
    expect(inst.destroyedAt).toBeNull();
    expect(s.world.account.deletionScheduledAt).toBeNull();
    expect(s.world.ledger.payments.some((p) => /card on file/.test(p.description))).toBe(true);
    const user = (await simFetch(s, 'GET', '/api/v0/users/current/')).json;
    expect(user).toMatchObject({ has_billing: true, last4: '4242' });
  });

  it('without a card, the stopped instances are destroyed after the grace', async () => {
    const { sim: s } = await start({}, 2);
    s.world.account.cardOnFile = false;
    const id = await rentOne(s);
    s.world.clock.advance(3600 * 24 * 3);
    s.world.tick();
    s.world.clock.advance(3600 * 24 * 3);
    s.world.tick();
    expect(s.world.instances.get(id)!.destroyedAt).not.toBeNull();
    expect((await simFetch(s, 'GET', '/api/v0/users/current/')).json).toMatchObject({ has_billing: false, last4: null });
  });

  it.each([true, false])('billing warns when no card protects the instances (card on file: %s)', async (card) => {
    const { sim: s, mcp: m } = await start();
    s.world.account.cardOnFile = card;
    await rentOne(s);
    const text = textOf(await m.call('billing', {}));
    if (card) expect(text).not.toMatch(/No payment card on file/);
    else expect(text).toMatch(/No payment card on file: at \$0 every instance stops .* destroyed/);
  });
});
