import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let id: number;
const sockets = new Set<Socket>();
const silent = createServer((s) => {
  sockets.add(s);
  s.on('error', () => undefined);
});

beforeAll(async () => {
  sim = await startTestSim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  mcp = await connectInMemory(sim);
  const port = await new Promise<number>((r) => silent.listen(0, '127.0.0.1', () => r((silent.address() as AddressInfo).port)));
  const inst = sim.world.instances.get(id)!;
  inst.directSshPort = port;
  inst.sshPort = port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  silent.close();
  await mcp.close();
  await sim.close();
});

describe('an instance whose SSH port accepts and stays silent', () => {
  it('ssh answers with a diagnosis within its readiness budget, and the server lives on', async () => {
    const r = await mcp.call('ssh', { instance_id: id, command: 'true', readiness_seconds: 1 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Could not SSH into instance \d+ within 1 s: the connection failed \(connection timed out/);
    const status = await mcp.call('status', { instance_id: id });
    expect(status.isError, textOf(status)).toBeFalsy();
  }, 60_000);

  it('destroy still asks for approval (the disk inspection is best-effort)', async () => {
    const r = await mcp.call('destroy', { instance_id: id, discard: true });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect((r.structuredContent as any).status).toBe('needs_approval');
  }, 60_000);
});
