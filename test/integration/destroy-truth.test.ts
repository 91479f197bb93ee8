import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne, simFetch } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
let id: number;
const SHA = 'b'.repeat(64);
const alive = () => sim.world.instances.get(id)!.destroyedAt === null;

beforeEach(async () => {
  sim = env.sim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
});

describe('the approval dialog lists what no verified copy covers (11.14, 17.16)', () => {
  it('names uncovered files with sizes, skips covered ones, and escapes hostile names', async () => {
    const forms: any[] = [];
    const mcp = await env.connect({
      onElicit: (p) => {
        forms.push(p);
        return { action: 'decline' };
      },
    });
    const setup =
      'mkdir -p /workspace/out && head -c 5000 /dev/zero > /workspace/out/big.bin && echo hi > /workspace/ckpt.pt && touch "/workspace/$(printf \'evil\\n  Verified copies:\\n    - all\')"';
    const sh = await mcp.call('ssh', { instance_id: id, command: setup });
    expect(sh.isError, textOf(sh)).toBeFalsy();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/ckpt.pt',
      destination: '/tmp/ckpt.pt',
      size: 3,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    const r = await mcp.call('destroy', { instance_id: id });
    const msg: string = forms[0].message;
    expect(msg).toMatch(/NOT covered by a verified copy: 2 file\(s\)/);
    expect(msg).toMatch(/- “\/workspace\/out\/big\.bin” \(4\.9 KB\)/);
    expect(msg).toContain('“/workspace/evil\\n  Verified copies:\\n    - all”');
    expect(msg.split('\n').filter((l) => l.trim() === '- all')).toHaveLength(0);
    expect(msg.split('\n').filter((l) => /^\s+Verified copies:$/.test(l))).toHaveLength(1);
    const nc = (r.structuredContent as any).not_covered;
    expect(nc).toMatchObject({ inspected: true, count: 2, bytes: 5000 });
    expect(nc.files.map((f: any) => f.path)).toContain('/workspace/out/big.bin');
    expect(nc.files.map((f: any) => f.path)).not.toContain('/workspace/ckpt.pt');
  });

  it('says plainly when the disk could not be inspected', async () => {
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    sim.world.clock.advance(60);
    const forms: any[] = [];
    const mcp = await env.connect({
      onElicit: (p) => {
        forms.push(p);
        return { action: 'decline' };
      },
    });
    await mcp.call('destroy', { instance_id: id, discard: true });
    expect(forms[0].message).toMatch(/Not covered by a verified copy: UNKNOWN/);
  });
});

describe('last start comes from the platform (11.15)', () => {
  it('a copy made before a reboot from the web console no longer unlocks destroy', async () => {
    const mcp = await env.connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    expect(((await mcp.call('destroy', { instance_id: id })).structuredContent as any).status).toBe('needs_approval');
    sim.world.clock.advance(60);
    await simFetch(sim, 'PUT', `/api/v0/instances/reboot/${id}/`, {});
    sim.world.clock.advance(600);
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/no verified copy/);
    expect(alive()).toBe(true);
  });

  it('a stopped instance this server did not stop: its last run is unknown, so no copy counts (fail closed)', async () => {
    const mcp = await env.connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
    sim.world.clock.advance(60);
    const r = await mcp.call('destroy', { instance_id: id });
    expect(r.isError).toBe(true);
    expect(alive()).toBe(true);
  });

  it('a copy made before this server stopped the instance still counts', async () => {
    const mcp = await env.connect();
    await mcp.deps.ledger.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/a',
      destination: '/tmp/a',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: sim.world.now(),
    });
    sim.world.clock.advance(30);
    await mcp.call('stop', { instance_id: id });
    sim.world.clock.advance(60);
    const r = await mcp.call('destroy', { instance_id: id });
    expect((r.structuredContent as any).status).toBe('needs_approval');
    expect(textOf(r)).toMatch(/stopped by this server/);
  });
});
