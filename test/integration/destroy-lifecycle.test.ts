import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
let id: number;
const connect = env.connect;

const SHA = 'a'.repeat(64);
const alive = () => sim.world.instances.get(id)!.destroyedAt === null;

beforeEach(async () => {
  sim = env.sim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
});

describe('destroy gate without elicitation', () => {
  it('refuses outright without a verified copy or a discard choice', async () => {
    const mcp = await connect();
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/no verified copy.*copy tool.*discard: true/s);
    expect(alive()).toBe(true);
    expect(mcp.deps.audit.entries().at(-1)).toMatchObject({ tool: 'destroy', result: 'refused', instance_id: id });
  });

  it('asks for approval first even with discard, and destroys only with the token, verifying the final state', async () => {
    const mcp = await connect();
    const first = await mcp.call('destroy', { instance_id: id, discard: true });
    const d = first.structuredContent as any;
    expect(d.status).toBe('needs_approval');
    expect(alive()).toBe(true);
    expect(textOf(first)).toMatch(/PERMANENTLY DELETES/);
    expect(textOf(first)).toMatch(/Verified copies:\n\s+- NONE/);
    expect(textOf(first)).toMatch(/chose to DISCARD/);
    expect(d.cost_saved_per_hour).toBeGreaterThan(0);
    const second = await mcp.call('destroy', { instance_id: id, discard: true, approval_token: d.approval_token });
    const done = second.structuredContent as any;
    expect(done).toMatchObject({ status: 'destroyed', verified_final_state: 'gone', discarded: true });
    expect(alive()).toBe(false);
    const gone = await mcp.call('status', { instance_id: id });
    expect(gone.isError).toBe(true);
  });

  it('refuses a token issued for discard when used without it', async () => {
    const mcp = await connect();
    const token = ((await mcp.call('destroy', { instance_id: id, discard: true })).structuredContent as any).approval_token;
    const r = await mcp.call('destroy', { instance_id: id, approval_token: token });
    expect(r.isError).toBe(true);
    expect(alive()).toBe(true);
  });

  it('allows destroy after a verified copy is in the ledger, and names the copy', async () => {
    const mcp = await connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/ckpt.pt',
      destination: '/tmp/out/ckpt.pt',
      size: 1234,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    const first = await mcp.call('destroy', { instance_id: id });
    const d = first.structuredContent as any;
    expect(d.status).toBe('needs_approval');
    expect(d.verified_copies).toEqual([expect.objectContaining({ remote_path: '/workspace/ckpt.pt', size: 1234, sha256: SHA })]);
    expect(textOf(first)).toMatch(/“\/workspace\/ckpt\.pt” → “\/tmp\/out\/ckpt\.pt”/);
    const done = (await mcp.call('destroy', { instance_id: id, approval_token: d.approval_token })).structuredContent as any;
    expect(done).toMatchObject({ status: 'destroyed', verified_final_state: 'gone', discarded: false });
    expect(alive()).toBe(false);
  });

  it('does not count a copy made before the last start', async () => {
    const mcp = await connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now() - 10_000,
    });
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(alive()).toBe(true);
  });

  it('invalidates an approval when the ledger changes after it was given', async () => {
    const mcp = await connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    const token = ((await mcp.call('destroy', { instance_id: id })).structuredContent as any).approval_token;
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/b',
      destination: '/tmp/b',
      size: 2,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    const r = await mcp.call('destroy', { instance_id: id, approval_token: token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/changed since the token was issued/);
    expect(alive()).toBe(true);
  });

  it('answers an already destroyed instance harmlessly', async () => {
    const mcp = await connect();
    sim.world.destroy(sim.world.instances.get(id)!);
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ status: 'already_destroyed', verified_final_state: 'gone' });
  });

  it('never reports success when the instance is still there after destroy', async () => {
    const mcp = await connect();
    const token = ((await mcp.call('destroy', { instance_id: id, discard: true })).structuredContent as any).approval_token;
    // The platform says success but does nothing.
    sim.faults.add({ method: 'DELETE', path: `^/api/v0/instances/${id}$`, kind: 'error', status: 200, body: '{"success":true}', count: 1 });
    const r = await mcp.call('destroy', { instance_id: id, discard: true, approval_token: token });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/still exists.*NOT destroyed/);
    expect(alive()).toBe(true);
  });
});

describe('destroy gate with elicitation', () => {
  it('approve + discard in the same form destroys', async () => {
    const forms: any[] = [];
    const mcp = await connect({
      onElicit: (p) => {
        forms.push(p);
        return { action: 'accept', content: { approve: true, discard: true } };
      },
    });
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.structuredContent).toMatchObject({ status: 'destroyed', discarded: true, verified_final_state: 'gone' });
    expect(Object.keys(forms[0].requestedSchema.properties)).toEqual(['approve', 'discard']);
    expect(forms[0].message).toMatch(new RegExp(`Destroy instance ${id}`));
    expect(alive()).toBe(false);
  });

  it('approve without discard and without a copy is still refused', async () => {
    const mcp = await connect({ onElicit: () => ({ action: 'accept', content: { approve: true, discard: false } }) });
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(alive()).toBe(true);
  });

  it('decline keeps the instance and is final for that scope', async () => {
    const mcp = await connect({ onElicit: () => ({ action: 'decline' }) });
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.structuredContent).toMatchObject({ status: 'declined', verified_final_state: 'present' });
    expect(alive()).toBe(true);
  });

  it('cancel keeps the instance and falls back to an approval token, saying why', async () => {
    const mcp = await connect({ onElicit: () => ({ action: 'cancel' }) });
    const r = await mcp.call('destroy', { instance_id: id, discard: true });
    expect(r.structuredContent).toMatchObject({ status: 'needs_approval', verified_final_state: 'present' });
    expect((r.structuredContent as any).fallback_reason).toMatch(/dismissed/);
    expect(alive()).toBe(true);
  });
});

describe('lifecycle', () => {
  it('stop says disk keeps billing and the simulator agrees', async () => {
    const mcp = await connect();
    const r = await mcp.call('stop', { instance_id: id });
    const d = r.structuredContent as any;
    expect(d.status).toBe('done');
    expect(d.actual_status).toBe('stopped');
    expect(d.burn_per_hour.gpu).toBe(0);
    expect(d.burn_per_hour.disk).toBeCloseTo(sim.world.instances.get(id)!.diskRate, 4);
    expect(textOf(r)).toMatch(/Disk keeps billing \$[\d.]+\/h.*only destroy stops the meter/);
  });

  it('start needs confirmation with the price, then resumes', async () => {
    const mcp = await connect();
    await mcp.call('stop', { instance_id: id });
    const first = (await mcp.call('start', { instance_id: id })).structuredContent as any;
    expect(first.status).toBe('needs_confirmation');
    expect(sim.world.instances.get(id)!.intended).toBe('stopped');
    const done = (await mcp.call('start', { instance_id: id, confirmation_token: first.confirmation_token })).structuredContent as any;
    expect(done.status).toBe('done');
    expect(sim.world.instances.get(id)!.intended).toBe('running');
    expect(mcp.deps.audit.entries().some((e) => e.action === 'start' && e.result === 'ok' && e.instance_id === id)).toBe(true);
  });

  it('labels, reboots and reads logs', async () => {
    const mcp = await connect();
    expect(((await mcp.call('label', { instance_id: id, label: 'renamed' })).structuredContent as any).status).toBe('done');
    expect(sim.world.instances.get(id)!.label).toBe('renamed');
    expect(((await mcp.call('reboot', { instance_id: id })).structuredContent as any).actual_status).toBe('rebooting');
    const logs = await mcp.call('logs', { instance_id: id, tail: 50 });
    expect((logs.structuredContent as any).log.text).toMatch(`instance ${id} created`);
    expect(textOf(logs)).toMatch(/untrusted data from the instance/);
  });

  it('changes an interruptible bid only after confirmation', async () => {
    const bidId = await rentOne(sim, { price: 5 });
    const mcp = await connect();
    const first = (await mcp.call('bid', { instance_id: bidId, price: 6 })).structuredContent as any;
    expect(first.status).toBe('needs_confirmation');
    expect(sim.world.instances.get(bidId)!.gpuRate).toBe(5);
    await mcp.call('bid', { instance_id: bidId, price: 6, confirmation_token: first.confirmation_token });
    expect(sim.world.instances.get(bidId)!.gpuRate).toBe(6);
    const onDemand = await mcp.call('bid', { instance_id: id, price: 1 });
    expect(onDemand.isError).toBe(true);
    expect(textOf(onDemand)).toMatch(/on-demand, not interruptible/);
  });
});
