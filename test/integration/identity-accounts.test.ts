import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim, TEST_KEY } from '../helpers/sim.js';

const KEY_B = 'TEAMBKEY-5ecret-b0b0b0b0b0b0b0b0b0';
let simA: RunningSimulator;
let simB: RunningSimulator;
let mcp: Connected;
let who: AuthInfo | undefined;
let idA: number;
const as = (user: string, team?: string): AuthInfo => ({
  token: `tok-${user}`,
  clientId: 'c',
  scopes: [],
  extra: { user, ...(team ? { team } : {}) },
});
const saved = { a: process.env.VAST_TEST_KEY_A, b: process.env.VAST_TEST_KEY_B };

beforeAll(async () => {
  simA = await startTestSim();
  simB = await startTestSim({ apiKey: KEY_B, seed: 'team-b' });
  process.env.VAST_TEST_KEY_A = TEST_KEY;
  process.env.VAST_TEST_KEY_B = KEY_B;
  const profiles = parseProfiles(
    `accounts:
  team-a:
    api_key_env: VAST_TEST_KEY_A
    teams: [a]
  team-b:
    api_key_env: VAST_TEST_KEY_B
    api_url: ${simB.url}
    teams: [b]
`,
    'accounts.yaml',
  );
  // The server's own key is team A's simulator's; team B's account is another simulator with another key.
  mcp = await connectInMemory(simA, { deps: { profiles }, auth: () => who });
  idA = await rentOne(simA, { label: 'team-a-run' });
});
afterAll(async () => {
  for (const [k, v] of [
    ['VAST_TEST_KEY_A', saved.a],
    ['VAST_TEST_KEY_B', saved.b],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await mcp.close();
  await simA.close();
  await simB.close();
});

describe('Vast accounts per team (15.4)', () => {
  it("a caller of team B never sees or touches team A's instances", async () => {
    who = as('bob', 'b');
    const status = (await mcp.call('status')).structuredContent as any;
    expect(status.count).toBe(0);
    const one = await mcp.call('status', { instance_id: idA });
    expect(one.isError).toBe(true);
    expect(textOf(one)).toMatch(new RegExp(`Instance ${idA} does not exist`));
    const destroy = await mcp.call('destroy', { instance_id: idA, discard: true });
    // From team B's account the instance does not exist: nothing is sent to team A's account.
    expect(destroy.isError).toBe(true);
    expect(textOf(destroy)).toMatch(new RegExp(`Instance ${idA} does not exist`));
    const stop = await mcp.call('stop', { instance_id: idA });
    expect(stop.isError).toBe(true);
    expect(simA.world.instances.get(idA)!.destroyedAt).toBeNull();
    expect(simA.world.instances.get(idA)!.intended).toBe('running');
    expect(simA.requests.filter((q) => q.path.includes(`/instances/${idA}`) && q.method !== 'GET')).toHaveLength(0);
  });

  it("rents on team B's account, records the account, and team A still sees only its own", async () => {
    who = as('bob', 'b');
    const args = { gpu_name: 'RTX 4090', hours: 1, disk_gb: 20 };
    const first = (await mcp.call('create', args)).structuredContent as any;
    const done = (await mcp.call('create', { ...args, confirmation_token: first.confirmation_token })).structuredContent as any;
    expect(done.status).toBe('created');
    expect(simB.world.liveInstances().map((i) => i.id)).toEqual([done.instances[0].instance_id]);
    expect(simA.world.liveInstances().map((i) => i.id)).toEqual([idA]);
    const rent = mcp.deps.audit.entries().find((e) => e.action === 'rent' && e.result === 'ok')!;
    expect(rent.actor).toEqual({ user: 'bob', team: 'b', authenticated: true, account: 'team-b' });
    // The operator, on the server's own key (team A's account), sees only that account's instances.
    who = undefined;
    const seen = ((await mcp.call('status')).structuredContent as any).instances.map((i: any) => i.id);
    expect(seen).toEqual([idA]);
    // Alice (team A) did not rent idA through this server (it was rented outside it): she does not see it.
    who = as('alice', 'a');
    expect(((await mcp.call('status')).structuredContent as any).count).toBe(0);
  });

  it('refuses an authenticated caller whose team has no account (fail closed); the local user keeps the server key', async () => {
    who = as('carol', 'c');
    const r = await mcp.call('status');
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/team "c" is mapped to none/);
    who = as('dave');
    expect(textOf(await mcp.call('billing'))).toMatch(/your identity names no team/);
    who = undefined;
    const local = (await mcp.call('status')).structuredContent as any;
    expect(local.instances.map((i: any) => i.id)).toContain(idA);
  });

  it("never puts team B's key in a response, a log line or the audit log", async () => {
    const everything = [...mcp.emitted, ...mcp.logs, readFileSync(mcp.deps.audit.path, 'utf8')].join('\n');
    expect(everything).not.toContain(KEY_B);
    expect(everything).not.toContain(TEST_KEY);
    expect(simB.requests.length).toBeGreaterThan(0);
  });
});
