import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';

const env = simPerTest();
let sim: RunningSimulator;
beforeEach(() => {
  sim = env.sim();
});
const as = (user: string, team?: string): AuthInfo => ({
  token: `tok-${user}`,
  clientId: 'c',
  scopes: [],
  extra: { user, ...(team ? { team } : {}) },
});
const rentPuts = () => sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'));
const ARGS = { gpu_name: 'RTX 4090', hours: 1, disk_gb: 40 };

describe('approvals belong to the user who was asked (15.3)', () => {
  it('refuses a token issued to alice when bob presents it, says why, and rents nothing', async () => {
    let who: AuthInfo | undefined = as('alice', 'ml');
    const mcp = await env.connect({ auth: () => who });
    const first = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(first.status).toBe('needs_confirmation');
    who = as('bob', 'ml');
    const r = await mcp.call('create', { ...ARGS, confirmation_token: first.confirmation_token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/issued to another user, and an approval is valid only for the person who was asked \(you are bob \(team ml\)\)/);
    expect(textOf(r)).toMatch(/Nothing was done/);
    expect(rentPuts()).toHaveLength(0);
    // Used up: not even alice can redeem it now.
    who = as('alice', 'ml');
    const again = await mcp.call('create', { ...ARGS, confirmation_token: first.confirmation_token });
    expect(textOf(again)).toMatch(/unknown or was already used/);
    expect(rentPuts()).toHaveLength(0);
  });

  it("refuses alice's destroy approval to bob: the instance stays", async () => {
    let who: AuthInfo | undefined = as('alice');
    const mcp = await env.connect({ auth: () => who });
    // Alice rents it through the server (an instance rented elsewhere is not hers to destroy).
    const quote = (await mcp.call('create', ARGS)).structuredContent as any;
    const id = ((await mcp.call('create', { ...ARGS, confirmation_token: quote.confirmation_token })).structuredContent as any).instances[0]
      .instance_id as number;
    const first = (await mcp.call('destroy', { instance_id: id, discard: true })).structuredContent as any;
    expect(first.status).toBe('needs_approval');
    who = as('bob');
    const r = await mcp.call('destroy', { instance_id: id, discard: true, approval_token: first.approval_token });
    expect(r.isError).toBe(true);
    // Bob is not its renter: refused before any approval is looked at, and the instance stays.
    expect(textOf(r)).toMatch(new RegExp(`Instance ${id} does not exist`));
    // The operator controls every instance, yet an approval given by alice is still not theirs to redeem.
    who = undefined;
    const o = await mcp.call('destroy', { instance_id: id, discard: true, approval_token: first.approval_token });
    expect(o.isError).toBe(true);
    expect(textOf(o)).toMatch(/issued to another user/);
    expect(sim.world.instances.get(id)!.destroyedAt).toBeNull();
  });

  it('refuses a token with a forged tag: the binding holds the user, not the tag', async () => {
    let who: AuthInfo | undefined = as('alice');
    const mcp = await env.connect({ auth: () => who });
    const first = (await mcp.call('create', ARGS)).structuredContent as any;
    const [store] = String(first.confirmation_token).split('.');
    who = undefined; // the local (stdio) user: a token without a tag is "theirs"
    const r = await mcp.call('create', { ...ARGS, confirmation_token: store });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/arguments or the quoted price changed/);
    expect(rentPuts()).toHaveLength(0);
  });

  it("rents with the user's own token, labels the instance with the user and records the actor on every record", async () => {
    const mcp = await env.connect({ auth: () => as('alice', 'ml') });
    const first = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(first.run.label_prefix).toBe('alice');
    const done = (await mcp.call('create', { ...ARGS, confirmation_token: first.confirmation_token })).structuredContent as any;
    expect(done.status).toBe('created');
    expect(done.instances[0].label).toMatch(/^alice-[0-9a-f]{6}$/);
    const records = mcp.deps.audit.entries().filter((e) => e.tool === 'create');
    expect(records.map((e) => e.action)).toEqual(['propose', 'rent_attempt', 'rent']);
    for (const e of records) expect(e.actor).toEqual({ user: 'alice', team: 'ml', authenticated: true, account: null });
  });

  it('keeps stdio as before: untagged tokens, the account label, the local actor', async () => {
    const mcp = await env.connect();
    const first = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(first.confirmation_token).toMatch(/^create-[A-Za-z0-9_-]+$/);
    const done = (await mcp.call('create', { ...ARGS, confirmation_token: first.confirmation_token })).structuredContent as any;
    expect(done.instances[0].label).toMatch(/^ada-[0-9a-f]{6}$/);
    const rent = mcp.deps.audit.entries().find((e) => e.action === 'rent')!;
    expect(rent.actor).toEqual({ user: null, team: null, authenticated: false, account: null });
  });

  it('a "no" from alice is final for alice only; bob is asked himself', async () => {
    let who: AuthInfo | undefined = as('alice');
    const asked: string[] = [];
    const mcp = await env.connect({
      auth: () => who,
      onElicit: () => {
        asked.push((who?.extra?.user as string) ?? 'local');
        return who?.extra?.user === 'alice' ? { action: 'decline' } : { action: 'accept', content: { confirm: true } };
      },
    });
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('declined');
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('declined');
    who = as('bob');
    const b = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(b.status).toBe('created');
    expect(asked).toEqual(['alice', 'bob']);
    expect(b.instances[0].label).toMatch(/^bob-[0-9a-f]{6}$/);
  });

  it('refuses every tool to a token whose user name is unusable, before any platform call', async () => {
    const mcp = await env.connect({ auth: () => ({ token: 't', clientId: 'c', scopes: [], extra: { user: 'eve\u202eelif' } }) });
    const before = sim.requests.length;
    const r = await mcp.call('status');
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/authenticated user name is not usable/);
    expect(sim.requests.length).toBe(before);
  });
});
