import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerDeps } from '../../server/deps.js';
import { openInstanceSsh } from '../../server/ssh/access.js';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim);
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

/** A port nothing listens on any more: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  const port = await new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as AddressInfo).port)));
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('SSH to an instance that stops between the read and the connection', () => {
  it('gives up at the next read that shows it stopped, with the diagnosis, instead of waiting out the readiness budget', async () => {
    const id = await rentOne(sim, { label: 'stops-meanwhile' });
    sim.world.clock.advance(600);
    sim.world.tick();
    const inst = sim.world.instances.get(id)!;
    expect(inst.actual).toBe('running');
    inst.directSshPort = await closedPort();
    inst.sshPort = inst.directSshPort;
    // The first read says running; the host is outbid right after it (the connection is then refused).
    const vast = new Proxy(mcp.deps.vast, {
      get(target, key) {
        const v = Reflect.get(target, key);
        if (key !== 'requireInstance') return typeof v === 'function' ? v.bind(target) : v;
        return async (n: number) => {
          const row = await target.requireInstance(n);
          sim.world.stopNow(inst, 'outbid');
          return row;
        };
      },
    });
    // A clock that only moves when the code sleeps: what it waits is counted, not timed.
    let clock = 0;
    const slept: number[] = [];
    const deps: ServerDeps = {
      ...mcp.deps,
      vast,
      monotonicMs: () => clock,
      sleep: async (ms: number) => {
        slept.push(ms);
        clock += ms;
      },
    };
    const err = await openInstanceSsh(deps, id, { attachKey: true, readinessMs: 20_000 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`^Could not SSH into instance ${id}: `));
    expect(err?.message).toMatch(/stopped/i);
    expect((err as { code?: string }).code).toBe('ssh_unavailable');
    expect(slept).toEqual([]);
  });
});
