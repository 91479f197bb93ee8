import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

/**
 * A large file from a far host goes in several ranged streams (the link's round trip is timed first);
 * the guarantees stay those of one stream: resume from a verified prefix, a flipped byte fails.
 */
let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
let id: number;
const MIB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function sh(command: string) {
  const r = await mcp.call('ssh', { instance_id: id, command, timeout_seconds: 120 });
  expect(r.isError, textOf(r)).toBeFalsy();
  return (r.structuredContent as any).stdout.text as string;
}

/** The byte ranges the instance was asked for (its exec log), for commands that read `file`. */
function rangedReads(file: string): string[] {
  return sim.world.instances
    .get(id)!
    .logLines.filter((l) => l.includes('exec: ') && l.includes(file) && /head -c|tail -c|exec cat|cat --/.test(l))
    .map((l) => l.slice(l.indexOf('exec: ') + 6));
}

beforeAll(async () => {
  sim = await startTestSim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  copyRoot = mkdtempSync(join(tmpdir(), 'vast-mcp-far-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
  await sh(`head -c ${80 * MIB} /dev/urandom > /workspace/far.bin`);
  sim.ssh!.setLink({ rttMs: 20, bytesPerSecond: null });
});
afterAll(async () => {
  sim.ssh?.setLink(null);
  await mcp.close();
  await sim.close();
});

describe('a large file over a far link', () => {
  it('goes in several ranged streams and arrives whole and verified', async () => {
    const before = rangedReads('far.bin').length;
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/far.bin', local_path: 'far.bin' });
    expect(r.isError, textOf(r)).toBeFalsy();
    const reads = rangedReads('far.bin').slice(before);
    // The first pass's whole-file stream, cut at its range, and one ranged read per other range.
    expect(reads.filter((c) => c.includes('tail -c +')).length).toBeGreaterThanOrEqual(1);
    const remote = (await sh('sha256sum /workspace/far.bin')).slice(0, 64);
    expect(sha(readFileSync(join(copyRoot, 'far.bin')))).toBe(remote);
    expect((r.structuredContent as any).files[0].sha256).toBe(remote);
  });

  it('resumes from the verified prefix after the connection drops mid-transfer', async () => {
    await simFetch(sim, 'POST', '/_sim/ssh-faults', { reset_after_bytes: 10 * MIB });
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/far.bin', local_path: 'far2.bin' });
    expect(r.isError, textOf(r)).toBeFalsy();
    const f = (r.structuredContent as any).files[0];
    expect(f.attempts).toBe(2);
    expect(f.resumed_from).toBeGreaterThan(0);
    expect(sha(readFileSync(join(copyRoot, 'far2.bin')))).toBe((await sh('sha256sum /workspace/far.bin')).slice(0, 64));
  });

  it('fails on a flipped byte in one of the streams, keeps no file and records nothing', async () => {
    const recorded = (await mcp.deps.ledger.verifiedCopiesFor(id)).length;
    await simFetch(sim, 'POST', '/_sim/ssh-faults', { flip_byte_at: 5 * MIB + 17 });
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/far.bin', local_path: 'far3.bin' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Verification failed/);
    expect(existsSync(join(copyRoot, 'far3.bin'))).toBe(false);
    expect(readdirSync(copyRoot).some((n) => n.includes('far3'))).toBe(false);
    expect(await mcp.deps.ledger.verifiedCopiesFor(id)).toHaveLength(recorded);
  });
});
