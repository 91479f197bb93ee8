import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';

// The owner rule hides other users' instances from what a caller is SHOWN; the server's own safety
// mechanisms still see the whole account: a lost create's marker look-ups, account-wide caps, and the
// scan for a duplicate a late commit rented (review of the owner rule: filtering the client's listing
// had blinded all three for authenticated callers).
const env = simPerTest();
let sim: RunningSimulator;
beforeEach(() => {
  sim = env.sim();
});

const as = (user: string, team: string): AuthInfo => ({ token: `tok-${user}`, clientId: 'c', scopes: [], extra: { user, team } });
const ARGS = { gpu_name: 'RTX 4090', disk_gb: 40, hours: 5 };
const PUTS = () => sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/'));
const live = () => sim.world.liveInstances();
const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const data = (r: any) => r.structuredContent as any;

describe("an authenticated caller's rentals are reconciled and capped over the whole account", () => {
  it('a create whose answer was lost is found by its marker: one rental, reported as created', async () => {
    const who = { current: as('alice', 'ml') };
    const mcp = await env.connect({ config: { createCommitWindowMs: 1500 }, deps: { sleep: realSleep }, auth: () => who.current });
    const p = data(await mcp.call('create', ARGS));
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 400, count: 1 });
    const r = data(await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token }));
    expect(r.status).toBe('created');
    expect(r.instances[0].reconciled).toBe(true);
    expect(live()).toHaveLength(1);
    expect(PUTS()).toHaveLength(1);
    // The found rental is hers: she sees and controls it.
    expect(data(await mcp.call('status')).instances.map((i: any) => i.id)).toEqual([r.instances[0].instance_id]);
  });

  it("a late commit's duplicate is stopped and shown to the user who made the attempt, who may destroy it; others never see it", async () => {
    const who = { current: as('alice', 'ml') };
    const mcp = await env.connect({ config: { createCommitWindowMs: 10 }, auth: () => who.current });
    const p = data(await mcp.call('create', ARGS));
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 600, count: 1 });
    const rented = data(await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token })).instances[0].instance_id;
    await realSleep(900);
    expect(live()).toHaveLength(2);
    const dup = live().find((i) => i.id !== rented)!;
    // Eve (another team) calls status first: the server still stops the duplicate, but shows her nothing of it.
    who.current = as('eve', 'ops');
    const eve = await mcp.call('status');
    expect(data(eve).instances).toEqual([]);
    expect(data(eve).late_rentals).toBeUndefined();
    expect(textOf(eve)).not.toMatch(/DUPLICATE/);
    expect(dup.intended).toBe('stopped');
    who.current = as('alice', 'ml');
    const s = await mcp.call('status');
    expect(data(s).late_rentals).toEqual([{ instance_id: dup.id, label: dup.label, stopped: true }]);
    expect(
      data(s)
        .instances.map((i: any) => i.id)
        .sort(),
    ).toEqual([rented, dup.id].sort());
    const ask = await mcp.call('destroy', { instance_id: dup.id, discard: true });
    expect(ask.isError, textOf(ask)).toBeFalsy();
    const token = data(ask).approval_token;
    // A teammate may not use it; alice may.
    who.current = as('bob', 'ml');
    expect(textOf(await mcp.call('destroy', { instance_id: dup.id, discard: true, approval_token: token }))).toMatch(
      /Refused: instance \d+ was rented by another user/,
    );
    who.current = as('alice', 'ml');
    const gone = await mcp.call('destroy', { instance_id: dup.id, discard: true, approval_token: token });
    expect(data(gone)).toMatchObject({ status: 'destroyed', discarded: true });
    expect(sim.world.instances.get(dup.id)!.destroyedAt).not.toBeNull();
  });

  it("a duplicate found while the create still runs is stopped and is the renter's: listed for her, destroyable by her only", async () => {
    const who = { current: as('alice', 'ml') };
    const mcp = await env.connect({ config: { createCommitWindowMs: 10 }, auth: () => who.current });
    const p = data(await mcp.call('create', ARGS));
    // Attempt 1's answer is lost and it commits 300 ms later; attempt 2 answers after 1 s, by when attempt 1 is listed.
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 300, count: 1 });
    sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'delay', delayMs: 1000, count: 1 });
    const r = data(await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token }));
    const rented = r.instances[0].instance_id;
    expect(live()).toHaveLength(2);
    const dup = live().find((i) => i.id !== rented)!;
    expect(dup.intended).toBe('stopped');
    expect(JSON.stringify(r)).toContain(String(dup.id));
    expect(
      data(await mcp.call('status'))
        .instances.map((i: any) => i.id)
        .sort(),
    ).toEqual([rented, dup.id].sort());
    who.current = as('eve', 'ops');
    expect(textOf(await mcp.call('destroy', { instance_id: dup.id, discard: true }))).toMatch(/does not exist/);
    who.current = as('alice', 'ml');
    const token = data(await mcp.call('destroy', { instance_id: dup.id, discard: true })).approval_token;
    expect(data(await mcp.call('destroy', { instance_id: dup.id, discard: true, approval_token: token }))).toMatchObject({ status: 'destroyed' });
  });

  it('each user copies within a folder of their own: another user can neither read nor overwrite a verified copy', async () => {
    const copyRoot = mkdtempSync(join(tmpdir(), 'identity-copies-'));
    const who = { current: as('alice', 'ml') };
    const mcp = await env.connect({ config: { copyRoot }, auth: () => who.current });
    const rent = async () => {
      const p = data(await mcp.call('create', ARGS));
      return data(await mcp.call('create', { ...ARGS, confirmation_token: p.confirmation_token })).instances[0].instance_id as number;
    };
    const alices = await rent();
    who.current = as('eve', 'ops');
    const eves = await rent();
    sim.world.clock.advance(600);
    who.current = as('alice', 'ml');
    expect((await mcp.call('ssh', { instance_id: alices, command: 'echo ALICE-SECRET > /workspace/res.txt' })).isError).toBeFalsy();
    const c = data(
      await mcp.call('copy', { instance_id: alices, direction: 'instance_to_local', remote_path: '/workspace/res.txt', local_path: 'res.txt' }),
    );
    const hers = c.files[0].destination as string;
    expect(hers.startsWith(join(copyRoot, 'users', 'alice-'))).toBe(true);
    expect(readFileSync(hers, 'utf8')).toBe('ALICE-SECRET\n');

    who.current = as('eve', 'ops');
    const rel = relative(join(copyRoot, 'users', 'x'), hers); // ../alice-…/res.txt
    for (const local_path of ['res.txt', rel, hers]) {
      const r = await mcp.call('copy', { instance_id: eves, direction: 'local_to_instance', local_path, remote_path: '/workspace/stolen.txt' });
      expect(r.isError, `${local_path}: ${textOf(r)}`).toBe(true);
      expect(textOf(r)).toMatch(/does not exist|outside the copy root/);
    }
    expect((await mcp.call('ssh', { instance_id: eves, command: 'echo EVE-JUNK > /workspace/res.txt' })).isError).toBeFalsy();
    const e = data(
      await mcp.call('copy', { instance_id: eves, direction: 'instance_to_local', remote_path: '/workspace/res.txt', local_path: 'res.txt' }),
    );
    expect(e.files[0].destination.startsWith(join(copyRoot, 'users', 'eve-'))).toBe(true);
    expect(readFileSync(hers, 'utf8')).toBe('ALICE-SECRET\n');
  });

  it('an account-wide burn cap counts the instances of every user, including ones the caller cannot see', async () => {
    const profiles = parseProfiles('profiles: {}\nbudgets:\n  max_burn_per_hour: 0.45\n', 'test.yaml');
    const who = { current: as('alice', 'ml') };
    const mcp = await env.connect({ deps: { profiles }, auth: () => who.current });
    const p = data(await mcp.call('create', { ...ARGS, max_dph: 0.3 }));
    const done = await mcp.call('create', { ...ARGS, max_dph: 0.3, confirmation_token: p.confirmation_token });
    expect(done.isError, textOf(done)).toBeFalsy();
    who.current = as('eve', 'ops');
    expect(data(await mcp.call('status')).instances).toEqual([]);
    const r = await mcp.call('create', { ...ARGS, max_dph: 0.3 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/burn rate would be/);
    expect(live()).toHaveLength(1);
    // Billing shows eve the account's burn, not alice's instance.
    const b = data(await mcp.call('billing'));
    expect(b.per_instance).toEqual([]);
    expect(b.burn_per_hour.total).toBeGreaterThan(0);
  });
});
