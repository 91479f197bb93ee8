import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { closedPort } from '../helpers/ports.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

/**
 * The platform spaces instance reads 2 s apart: an ssh or copy call right after another uses that
 * call's read of the instance instead of waiting, and never one from before a change we made.
 */
let sim: RunningSimulator;
let mcp: Connected;
let id: number;

const reads = () => sim.requests.filter((r) => r.method === 'GET' && r.path === `/api/v0/instances/${id}`).length;

beforeAll(async () => {
  sim = await startTestSim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  mcp = await connectInMemory(sim);
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('SSH access after a recent read', () => {
  it('a second call within the spacing does not read the instance again', async () => {
    // A cheap call that reads the instance (no SSH), so the two stay well within 2 s even on a loaded machine.
    const first = await mcp.call('status', { instance_id: id });
    expect(first.isError, textOf(first)).toBeFalsy();
    const before = reads();
    const second = await mcp.call('ssh', { instance_id: id, command: 'echo two' });
    expect(second.isError, textOf(second)).toBeFalsy();
    expect((second.structuredContent as any).stdout.text).toBe('two\n');
    expect(reads()).toBe(before);
  });

  it('when the recent read leads nowhere (its ports moved), it starts again from a fresh read', async () => {
    const inst = sim.world.instances.get(id)!;
    const real = { direct: inst.directSshPort, proxy: inst.sshPort };
    const nowhere = await closedPort();
    inst.directSshPort = nowhere;
    inst.sshPort = nowhere;
    await mcp.call('status', { instance_id: id });
    // The platform now shows where sshd really is; the read just made still says otherwise.
    inst.directSshPort = real.direct;
    inst.sshPort = real.proxy;
    const before = reads();
    const r = await mcp.call('ssh', { instance_id: id, command: 'echo moved', readiness_seconds: 20 });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect((r.structuredContent as any).stdout.text).toBe('moved\n');
    expect(reads()).toBe(before + 1);
  });

  it('a stop we asked for forgets the read: the next call reads afresh and says it is not running', async () => {
    await mcp.call('ssh', { instance_id: id, command: 'true' });
    await mcp.deps.vast.setState(id, 'stopped');
    const before = reads();
    const r = await mcp.call('ssh', { instance_id: id, command: 'echo three' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/not running/);
    expect(reads()).toBeGreaterThan(before);
  });

  it('a read older than the spacing is not used', () => {
    const vast = mcp.deps.vast;
    expect(vast.recentInstance(id, 60_000)).not.toBeNull();
    expect(vast.recentInstance(id, 0)).toBeNull();
  });
});
