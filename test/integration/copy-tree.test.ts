import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
let id: number;

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');
const data = (r: any) => r.structuredContent as any;

async function sh(command: string) {
  const r = await mcp.call('ssh', { instance_id: id, command, timeout_seconds: 120 });
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(data(r).exit_code, data(r).stderr).toBe(0);
  return data(r).stdout.text as string;
}

const execCount = () => sim.world.instances.get(id)!.logLines.filter((l) => l.startsWith('exec: ')).length;
const recordsFor = async (path: string) =>
  (await mcp.deps.ledger.verifiedCopiesFor(id)).filter((c) => c.remote_path === path || c.remote_path.startsWith(`${path}/`));

function partialsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((n) => n.includes('vast-mcp-partial'));
}

async function remoteHashes(dir: string): Promise<Map<string, string>> {
  const out = await sh(`cd ${dir} && find . -type f -print0 | xargs -0 sha256sum`);
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(66).replace(/^\.\//, ''), l.slice(0, 64)]),
  );
}

beforeAll(async () => {
  sim = await startTestSim({ proxyBytesPerSecond: 4 * 1024 * 1024 });
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  copyRoot = mkdtempSync(join(tmpdir(), 'vast-mcp-tree-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
  // 400 small files in nested directories, an empty directory, and one larger file.
  await sh(
    'mkdir -p /workspace/ckpt/empty && cd /workspace/ckpt && for d in 0 1 2 3; do mkdir -p shard$d; for i in $(seq 1 100); do head -c 4096 /dev/urandom > shard$d/f$i.bin; done; done && head -c 3000000 /dev/urandom > big.pt',
  );
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('directory copy off the instance', () => {
  it('copies 401 files with a handful of remote commands, verified, recorded once as a whole', async () => {
    const before = execCount();
    const r = data(await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/ckpt', local_path: 'ckpt' }));
    expect(execCount() - before).toBeLessThanOrEqual(5);
    expect(r.files).toHaveLength(401);
    const remote = await remoteHashes('/workspace/ckpt');
    for (const [rel, h] of remote) expect(sha(readFileSync(join(copyRoot, 'ckpt', rel))), rel).toBe(h);
    expect(existsSync(join(copyRoot, 'ckpt/empty'))).toBe(true);
    expect(partialsUnder(join(copyRoot, 'ckpt'))).toEqual([]);
    const records = await recordsFor('/workspace/ckpt');
    expect(records.map((c) => [c.remote_path, c.destination, c.size])).toEqual([['/workspace/ckpt', join(copyRoot, 'ckpt'), 400 * 4096 + 3_000_000]]);
    expect(r.recorded_in_ledger).toBe(1);
  });

  it('records nothing when a byte is flipped in the stream, and leaves no partial file', async () => {
    await sh('rm -rf /workspace/flip && mkdir -p /workspace/flip && for i in $(seq 1 50); do head -c 4096 /dev/urandom > /workspace/flip/f$i; done');
    await simFetch(sim, 'POST', '/_sim/ssh-faults', { flip_byte_at: 30 * 4608 + 700 });
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/flip', local_path: 'flip' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Verification failed|refused/);
    expect(await recordsFor('/workspace/flip')).toEqual([]);
    expect(partialsUnder(join(copyRoot, 'flip'))).toEqual([]);
  });

  it('resumes after the connection drops mid-stream and then records the whole tree once', async () => {
    await sh('rm -rf /workspace/drop && mkdir -p /workspace/drop && for i in $(seq 1 60); do head -c 50000 /dev/urandom > /workspace/drop/f$i; done');
    await simFetch(sim, 'POST', '/_sim/ssh-faults', { reset_after_bytes: 1_500_000 });
    const r = data(await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/drop', local_path: 'drop' }));
    expect(r.files).toHaveLength(60);
    expect(Math.max(...r.files.map((f: any) => f.attempts))).toBe(2);
    const remote = await remoteHashes('/workspace/drop');
    for (const [rel, h] of remote) expect(sha(readFileSync(join(copyRoot, 'drop', rel)))).toBe(h);
    expect(await recordsFor('/workspace/drop')).toHaveLength(1);
  });

  it('on a second copy sends only what is missing or differs, checked by hash', async () => {
    unlinkSync(join(copyRoot, 'ckpt/shard1/f7.bin'));
    writeFileSync(join(copyRoot, 'ckpt/shard2/f9.bin'), Buffer.alloc(4096, 1));
    const r = data(await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/ckpt', local_path: 'ckpt' }));
    const fresh = r.files
      .filter((f: any) => f.resumed_from === 0)
      .map((f: any) => f.source)
      .sort();
    expect(fresh).toEqual(['/workspace/ckpt/shard1/f7.bin', '/workspace/ckpt/shard2/f9.bin']);
    const remote = await remoteHashes('/workspace/ckpt');
    expect(sha(readFileSync(join(copyRoot, 'ckpt/shard2/f9.bin')))).toBe(remote.get('shard2/f9.bin'));
  });

  it('never follows a link on the instance: links are skipped and named', async () => {
    await sh(
      'rm -rf /workspace/links && mkdir -p /workspace/links && echo data > /workspace/links/real.txt && ln -s /etc/passwd /workspace/links/passwd && ln -s /root /workspace/links/home',
    );
    const r = data(await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/links', local_path: 'links' }));
    expect(r.files.map((f: any) => f.source)).toEqual(['/workspace/links/real.txt']);
    expect(r.skipped.map((s: any) => s.path).sort()).toEqual(['/workspace/links/home', '/workspace/links/passwd']);
    expect(readdirSync(join(copyRoot, 'links')).sort()).toEqual(['real.txt', 'vast-mcp-manifest.json']);
  });

  it('refuses to write through a local link planted in the destination', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'vast-mcp-outside-'));
    mkdirSync(join(copyRoot, 'planted'), { recursive: true });
    symlinkSync(outside, join(copyRoot, 'planted/shard0'));
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/ckpt', local_path: 'planted' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/symbolic link/);
    expect(readdirSync(outside)).toEqual([]);
    expect(await recordsFor('/workspace/ckpt')).toHaveLength(2);
  });
});

describe('single files', () => {
  it('never resumes from a partial that is not a prefix of the remote file', async () => {
    await sh('head -c 2000000 /dev/urandom > /workspace/one.bin');
    writeFileSync(join(copyRoot, '.one.bin.vast-mcp-partial'), Buffer.alloc(700_000, 7));
    const r = data(
      await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/one.bin', local_path: 'one.bin' }),
    );
    expect(r.files[0].resumed_from).toBe(0);
    const local = readFileSync(join(copyRoot, 'one.bin'));
    expect(local.length).toBe(2_000_000);
    expect(sha(local)).toBe((await sh('sha256sum /workspace/one.bin')).slice(0, 64));
  });

  it('resumes from a partial the instance confirms to be a prefix', async () => {
    const full = readFileSync(join(copyRoot, 'one.bin'));
    rmSync(join(copyRoot, 'one.bin'));
    writeFileSync(join(copyRoot, '.one.bin.vast-mcp-partial'), full.subarray(0, 1_234_567));
    const r = data(
      await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/one.bin', local_path: 'one.bin' }),
    );
    expect(r.files[0].resumed_from).toBe(1_234_567);
    expect(sha(readFileSync(join(copyRoot, 'one.bin')))).toBe(sha(full));
  });

  it('a cancelled copy stops writing, and the retry produces the exact file', async () => {
    await sh('head -c 8000000 /dev/urandom > /workspace/slow.bin');
    const ac = new AbortController();
    const call = mcp.client.callTool(
      {
        name: 'copy',
        arguments: {
          instance_id: id,
          direction: 'instance_to_local',
          remote_path: '/workspace/slow.bin',
          local_path: 'slow.bin',
          prefer_proxy: true,
        },
      },
      undefined,
      { signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 1200));
    ac.abort();
    await expect(call).rejects.toThrow();
    // The server side stops: the partial stops growing and never becomes final.
    await new Promise((r) => setTimeout(r, 500));
    const partial = join(copyRoot, '.slow.bin.vast-mcp-partial');
    const size1 = existsSync(partial) ? lstatSync(partial).size : 0;
    await new Promise((r) => setTimeout(r, 700));
    expect(existsSync(partial) ? lstatSync(partial).size : 0).toBe(size1);
    expect(existsSync(join(copyRoot, 'slow.bin'))).toBe(false);
    expect(existsSync(join(copyRoot, '.slow.bin.vast-mcp-lock'))).toBe(false);
    const r = data(
      await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/slow.bin', local_path: 'slow.bin' }),
    );
    const local = readFileSync(join(copyRoot, 'slow.bin'));
    expect(local.length).toBe(8_000_000);
    expect(sha(local)).toBe(r.files[0].sha256);
    expect(sha(local)).toBe((await sh('sha256sum /workspace/slow.bin')).slice(0, 64));
  });
});

describe('a long link', () => {
  it('copies over a shaped direct endpoint (80 ms round trip, 50 MB/s), verified, and billed once', async () => {
    sim.ssh!.setLink({ rttMs: 80, bytesPerSecond: 50_000_000 });
    try {
      const before = sim.world.instances.get(id)!.bytesUp;
      const r = data(
        await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/ckpt/big.pt', local_path: 'far/big.pt' }),
      );
      expect(r.endpoint).toBe('direct');
      expect(sha(readFileSync(join(copyRoot, 'far/big.pt')))).toBe((await sh('sha256sum /workspace/ckpt/big.pt')).slice(0, 64));
      const billed = sim.world.instances.get(id)!.bytesUp - before;
      expect(billed).toBeGreaterThan(3_000_000);
      expect(billed).toBeLessThan(4_000_000);
    } finally {
      sim.ssh!.setLink(null);
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('a full local disk', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = join(copyRoot, 'full');
    mkdirSync(mnt, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    if (r.status !== 0) throw new Error(`mount failed: ${r.stderr}`);
  });
  afterAll(() => {
    spawnSync('umount', [mnt]);
  });

  it('fails a single-file copy with "disk full", removes the partial, records nothing', async () => {
    const before = (await mcp.deps.ledger.verifiedCopiesFor(id)).length;
    const r = await mcp.call('copy', {
      instance_id: id,
      direction: 'instance_to_local',
      remote_path: '/workspace/ckpt/big.pt',
      local_path: 'full/big.pt',
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/disk is full/);
    expect(readdirSync(mnt)).toEqual([]);
    expect(await mcp.deps.ledger.verifiedCopiesFor(id)).toHaveLength(before);
  });

  it('fails a directory copy with "disk full", leaves no partial, records nothing', async () => {
    const before = (await mcp.deps.ledger.verifiedCopiesFor(id)).length;
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/ckpt', local_path: 'full/ckpt' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/disk is full/);
    expect(partialsUnder(mnt)).toEqual([]);
    expect(await mcp.deps.ledger.verifiedCopiesFor(id)).toHaveLength(before);
  });
});
