import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
let id: number;

const sha = (buf: Buffer | string) => createHash('sha256').update(buf).digest('hex');
const data = (r: any) => r.structuredContent as any;
const execCount = () => sim.world.instances.get(id)!.logLines.filter((l) => l.startsWith('exec: ')).length;

async function sh(command: string) {
  const r = await mcp.call('ssh', { instance_id: id, command, timeout_seconds: 120 });
  expect(r.isError, textOf(r)).toBeFalsy();
  return data(r).stdout.text as string;
}

beforeAll(async () => {
  sim = await startTestSim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  copyRoot = mkdtempSync(join(tmpdir(), 'vast-mcp-up-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(copyRoot, `data/part${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(copyRoot, `data/part${d}/f${i}.txt`), `file ${d}/${i}\n`.repeat(300));
  }
  mkdirSync(join(copyRoot, 'data/empty'));
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('uploads', () => {
  it('sends 300 files as one stream with a handful of commands, verified on the instance, no staging left', async () => {
    const before = execCount();
    const r = data(await mcp.call('copy', { instance_id: id, direction: 'local_to_instance', local_path: 'data', remote_path: '/workspace/data' }));
    expect(execCount() - before).toBeLessThanOrEqual(5);
    expect(r.files).toHaveLength(300);
    const listed = await sh('cd /workspace/data && find . -type f -print0 | xargs -0 sha256sum | sort -k2');
    const lines = listed.trim().split('\n');
    expect(lines).toHaveLength(300);
    for (const l of lines)
      expect(l.slice(0, 64)).toBe(
        sha(
          `file ${l
            .match(/part(\d)\/f(\d+)/)!
            .slice(1)
            .join('/')}\n`.repeat(300),
        ),
      );
    expect(await sh('ls -a /workspace | grep -c vast-mcp-partial || true')).toBe('0\n');
    expect(await sh('test -d /workspace/data/empty && echo yes')).toBe('yes\n');
    expect(r.recorded_in_ledger).toBe(0);
  });

  it('files larger than one channel write, odd sizes and a name past 100 bytes arrive byte for byte', async () => {
    const dir = join(copyRoot, 'mixed');
    const long = `${'n'.repeat(120)}.bin`;
    const bodies: Record<string, Buffer> = {
      'big.bin': randomBytes(6 * 1024 * 1024 + 3), // many 256 KiB writes, more than an SSH window; ends mid-block
      'one.bin': randomBytes(1),
      'empty.bin': Buffer.alloc(0),
      [`deep/${long}`]: randomBytes(513),
    };
    mkdirSync(join(dir, 'deep'), { recursive: true });
    for (const [name, body] of Object.entries(bodies)) writeFileSync(join(dir, name), body);
    const r = data(await mcp.call('copy', { instance_id: id, direction: 'local_to_instance', local_path: 'mixed', remote_path: '/workspace/mixed' }));
    const reported = new Map((r.files as { destination: string; sha256: string; size: number }[]).map((f) => [f.destination, f]));
    const listed = await sh('cd /workspace/mixed && find . -type f -print0 | xargs -0 sha256sum');
    const remote = new Map(
      listed
        .trim()
        .split('\n')
        .map((l) => [l.slice(66).replace(/^\.\//, ''), l.slice(0, 64)]),
    );
    expect(remote.size).toBe(4);
    for (const [name, body] of Object.entries(bodies)) {
      expect(remote.get(name), name).toBe(sha(body));
      expect(reported.get(`/workspace/mixed/${name}`)).toMatchObject({ sha256: sha(body), size: body.length });
    }
  });

  it('merges into an existing directory without touching files that are not in the upload', async () => {
    await sh('echo keep > /workspace/data/keep.txt');
    writeFileSync(join(copyRoot, 'data/part0/f0.txt'), 'changed\n');
    await mcp.call('copy', { instance_id: id, direction: 'local_to_instance', local_path: 'data', remote_path: '/workspace/data' });
    expect(await sh('cat /workspace/data/keep.txt /workspace/data/part0/f0.txt')).toBe('keep\nchanged\n');
  });

  it('never follows a local link: a link to a secret is skipped and named, and never reaches the instance', async () => {
    const secrets = mkdtempSync(join(tmpdir(), 'vast-mcp-secret-'));
    writeFileSync(join(secrets, 'id_ed25519'), 'PRIVATE KEY MATERIAL');
    mkdirSync(join(copyRoot, 'withlink'));
    writeFileSync(join(copyRoot, 'withlink/ok.txt'), 'ok');
    symlinkSync(join(secrets, 'id_ed25519'), join(copyRoot, 'withlink/key'));
    symlinkSync(secrets, join(copyRoot, 'withlink/secretdir'));
    const r = data(
      await mcp.call('copy', { instance_id: id, direction: 'local_to_instance', local_path: 'withlink', remote_path: '/workspace/withlink' }),
    );
    expect(r.files.map((f: any) => f.destination)).toEqual(['/workspace/withlink/ok.txt']);
    expect(r.skipped.map((s: any) => s.path).sort()).toEqual([join(copyRoot, 'withlink/key'), join(copyRoot, 'withlink/secretdir')]);
    expect(await sh('ls -a /workspace/withlink; grep -r PRIVATE /workspace || true')).toBe('.\n..\nok.txt\n');
  });

  it('refuses a local_path that is itself a link', async () => {
    const secrets = mkdtempSync(join(tmpdir(), 'vast-mcp-secret-'));
    writeFileSync(join(secrets, 'token'), 'x');
    symlinkSync(secrets, join(copyRoot, 'linked'));
    symlinkSync(join(secrets, 'token'), join(copyRoot, 'linked-file'));
    for (const local_path of ['linked', 'linked-file', 'linked/token']) {
      const r = await mcp.call('copy', { instance_id: id, direction: 'local_to_instance', local_path, remote_path: '/workspace/linked' });
      expect(r.isError, local_path).toBe(true);
      expect(textOf(r)).toMatch(/symbolic link/);
    }
  });

  it('does not append a file to a stale remote partial that is not its prefix', async () => {
    writeFileSync(join(copyRoot, 'one.txt'), 'the real content\n'.repeat(1000));
    await sh("mkdir -p /workspace/in && printf 'garbage that is not a prefix' > /workspace/in/.one.txt.vast-mcp-partial");
    const r = data(
      await mcp.call('copy', { instance_id: id, direction: 'local_to_instance', local_path: 'one.txt', remote_path: '/workspace/in/one.txt' }),
    );
    expect(r.files[0].resumed_from).toBe(0);
    expect((await sh('sha256sum /workspace/in/one.txt')).slice(0, 64)).toBe(sha('the real content\n'.repeat(1000)));
  });
});
