import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { INSTANCE_READ_SPACING_MS } from '../../server/ssh/access.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519 } from '../../server/ssh/keygen.js';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let id: number;
let impostor: InstanceType<typeof ssh2.Server>;
let impostorPort: number;
const impostorCommands: string[] = [];

beforeAll(async () => {
  sim = await startTestSim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  mcp = await connectInMemory(sim);
  // Whoever answers on the instance's port later: accepts any key, claims every file hashes to zeros.
  impostor = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        impostorCommands.push(info.command);
        const ch = acceptExec();
        ch.write(`${'0'.repeat(64)}  /workspace/x\n`);
        ch.exit(0);
        ch.close();
      });
    });
  });
  impostorPort = await new Promise((r) => impostor.listen(0, '127.0.0.1', () => r((impostor.address() as AddressInfo).port)));
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
  impostor.close();
});

describe('SSH host-key pinning', () => {
  it('pins the host key at first contact, per platform and instance', async () => {
    const r = await mcp.call('ssh', { instance_id: id, command: 'echo hi' });
    expect(r.isError, textOf(r)).toBeFalsy();
    const pins = readFileSync(join(mcp.deps.config.stateDir, 'host-keys.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(pins).toHaveLength(1);
    expect(pins[0]).toMatchObject({ type: 'host_key_pin', platform: sim.url, instance_id: id });
    expect(pins[0].fingerprint).toMatch(/^SHA256:/);
    const again = await mcp.call('ssh', { instance_id: id, command: 'echo again' });
    expect(again.isError, textOf(again)).toBeFalsy();
  });

  it('refuses an impostor on the instance SSH port with a clear diagnosis, and runs nothing there', async () => {
    const inst = sim.world.instances.get(id)!;
    inst.directSshPort = impostorPort;
    inst.sshPort = impostorPort;
    // Past the platform's spacing of instance reads: the call reads the instance (and its new port) afresh.
    await new Promise((r) => setTimeout(r, INSTANCE_READ_SPACING_MS + 100));
    const r = await mcp.call('ssh', { instance_id: id, command: 'cat /workspace/x', readiness_seconds: 0 });
    expect(r.isError).toBe(true);
    const text = textOf(r);
    expect(text).toMatch(/presented host key SHA256:\S+, but this instance's key was pinned as SHA256:/);
    expect(text).toMatch(/impostor/);
    expect(text).toContain('host-keys.jsonl');
    const copy = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/x', local_path: 'x' });
    expect(copy.isError).toBe(true);
    expect(textOf(copy)).toMatch(/pinned/);
    expect(impostorCommands).toEqual([]);
    expect(await mcp.deps.ledger.verifiedCopiesFor(id)).toEqual([]);
  });
});
