import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
let a: number;
let b: number;

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');
const data = (r: any) => r.structuredContent as any;

async function sh(id: number, command: string, extra: Record<string, unknown> = {}) {
  const r = await mcp.call('ssh', { instance_id: id, command, ...extra });
  expect(r.isError, textOf(r)).toBeFalsy();
  return data(r);
}

async function copy(args: Record<string, unknown>) {
  const r = await mcp.call('copy', args);
  expect(r.isError, textOf(r)).toBeFalsy();
  return data(r);
}

beforeAll(async () => {
  sim = await startTestSim({ proxyBytesPerSecond: 4 * 1024 * 1024 });
  a = await rentOne(sim);
  b = await rentOne(sim);
  sim.world.clock.advance(600);
  copyRoot = mkdtempSync(join(tmpdir(), 'vast-mcp-copyroot-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('ssh', () => {
  it('attaches its key to an instance created before it was registered, then connects directly', async () => {
    const r = data(await mcp.call('ssh', { instance_id: a }));
    expect(r.endpoint).toBe('direct');
    expect(r.url).toMatch(/^ssh:\/\/root@127\.0\.0\.1:\d+$/);
    expect(r.warnings.join(' ')).toMatch(/was attached now/);
    expect(sim.world.account.sshKeys).toHaveLength(1);
    expect(sim.world.instances.get(a)!.sshKeys.map((k) => k.publicKey)).toContain(sim.world.account.sshKeys[0]!.publicKey);
  });

  it('connects with its key first: a later contact reads no key list from the platform', async () => {
    const keyReads = () => sim.requests.filter((r) => /ssh/.test(r.path) && !/\/instances\/\d+\/?$/.test(r.path)).length;
    const before = keyReads();
    const r = data(await mcp.call('ssh', { instance_id: a, command: 'true' }));
    expect(r.exit_code).toBe(0);
    expect(keyReads()).toBe(before);
    expect(r.warnings ?? []).not.toContain(expect.stringMatching(/attached now/));
    // The key removed from the instance behind our back: refused once, then checked, attached and connected.
    sim.world.instances.get(a)!.sshKeys = [];
    const again = data(await mcp.call('ssh', { instance_id: a, command: 'true' }));
    expect(again.exit_code).toBe(0);
    expect(again.warnings.join(' ')).toMatch(/attached now/);
    expect(keyReads()).toBeGreaterThan(before);
    expect(sim.world.instances.get(a)!.sshKeys).toHaveLength(1);
  });

  it('runs commands in a real shell with the instance GPU in nvidia-smi', async () => {
    const r = await sh(a, 'nvidia-smi -L; echo $HOME; pwd; echo err >&2; exit 3');
    expect(r.exit_code).toBe(3);
    expect(r.stdout.text).toMatch(/^GPU 0: RTX 4090/);
    expect(r.stdout.text).toMatch(/\/root\n\/workspace/);
    expect(r.stderr.text).toBe('err\n');
  });

  it('kills a command at its timeout', async () => {
    const r = await sh(a, 'sleep 30', { timeout_seconds: 1 });
    expect(r.timed_out).toBe(true);
  });

  it('caps output at 64 KiB with a truncation marker and fences it as untrusted', async () => {
    const res = await mcp.call('ssh', { instance_id: a, command: "head -c 200000 /dev/zero | tr '\\0' a" });
    const r = data(res);
    expect(r.stdout_truncated).toBe(true);
    expect(r.stdout.text.length).toBeLessThan(70_000);
    expect(r.stdout.text).toMatch(/^…\[truncated: \d+ earlier bytes cut\]/);
    expect(textOf(res)).toMatch(/untrusted data from the instance/);
  });

  it('keeps instances apart and never touches the host /workspace', async () => {
    await sh(a, 'echo secret-a > /workspace/only-a.txt');
    const r = await sh(b, 'ls /workspace; cat /workspace/only-a.txt 2>&1; true');
    expect(r.stdout.text).not.toMatch(/secret-a/);
    expect(existsSync('/workspace/only-a.txt')).toBe(false);
  });

  it('diagnoses a key missing from an instance created earlier, and attaching fixes it', async () => {
    const c = await rentOne(sim);
    sim.world.clock.advance(600);
    // Our key is on the account now, but instance c was created before... it was: it got the account keys at creation.
    expect(sim.world.instances.get(c)!.sshKeys.length).toBe(1);
    sim.world.instances.get(c)!.sshKeys = [];
    const refused = await mcp.call('ssh', { instance_id: c, attach_key: false, readiness_seconds: 0 });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/key is not on the instance.*attach_key/);
    const ok = data(await mcp.call('ssh', { instance_id: c }));
    expect(ok.warnings.join(' ')).toMatch(/attached now/);
  });

  it('runs onstart at start and shows its output in the logs', async () => {
    const c = await rentOne(sim, { onstart: 'echo onstart-marker-7; echo started > /workspace/onstart.flag' });
    sim.world.clock.advance(600);
    sim.world.tick();
    let log = '';
    for (let i = 0; i < 50 && !log.includes('onstart exited with code 0'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      log = sim.world.instances.get(c)!.logLines.join('\n');
    }
    const logs = data(await mcp.call('logs', { instance_id: c }));
    expect(logs.log.text).toMatch(/onstart-marker-7/);
    expect(logs.log.text).toMatch(/onstart exited with code 0/);
    expect(existsSync(join(sim.ssh!.sandbox.rootOf(c), 'workspace/onstart.flag'))).toBe(true);
  });

  it('shows exec output in the instance logs', async () => {
    await sh(a, 'echo marker-in-logs-42');
    const logs = data(await mcp.call('logs', { instance_id: a }));
    expect(logs.log.text).toMatch(/marker-in-logs-42/);
  });
});

describe('copy', () => {
  it('copies a checkpoint to local, verified and recorded, with no partial left', async () => {
    await sh(a, 'head -c 3000000 /dev/urandom > /workspace/ckpt.pt');
    const before = sim.world.instances.get(a)!.bytesUp;
    const r = await copy({ instance_id: a, direction: 'instance_to_local', remote_path: '/workspace/ckpt.pt', local_path: 'run1/ckpt.pt' });
    const local = readFileSync(join(copyRoot, 'run1/ckpt.pt'));
    expect(local.length).toBe(3_000_000);
    expect(r.files[0].sha256).toBe(sha(local));
    const remote = (await sh(a, 'sha256sum /workspace/ckpt.pt')).stdout.text.slice(0, 64);
    expect(remote).toBe(sha(local));
    expect(r.recorded_in_ledger).toBe(1);
    expect((await mcp.deps.ledger.verifiedCopiesFor(a)).map((c) => c.remote_path)).toContain('/workspace/ckpt.pt');
    expect(readdirSync(join(copyRoot, 'run1'))).toEqual(['ckpt.pt']);
    expect(sim.world.instances.get(a)!.bytesUp - before).toBeGreaterThan(3_000_000);
    expect(r.endpoint).toBe('direct');
  });

  it('copies a directory recursively with a manifest', async () => {
    await sh(a, 'mkdir -p /workspace/out/sub && echo one > /workspace/out/a.txt && echo two > /workspace/out/sub/b.txt');
    const r = await copy({ instance_id: a, direction: 'instance_to_local', remote_path: '/workspace/out', local_path: 'out' });
    expect(r.files.map((f: any) => f.source).sort()).toEqual(['/workspace/out/a.txt', '/workspace/out/sub/b.txt']);
    expect(readFileSync(join(copyRoot, 'out/sub/b.txt'), 'utf8')).toBe('two\n');
    const manifest = JSON.parse(readFileSync(join(copyRoot, 'out/vast-mcp-manifest.json'), 'utf8'));
    expect(manifest.files).toHaveLength(2);
  });

  it('uploads local files to the instance and verifies them there', async () => {
    mkdirSync(join(copyRoot, 'up'), { recursive: true });
    const buf = Buffer.from('dataset '.repeat(10000));
    writeFileSync(join(copyRoot, 'up/data.txt'), buf);
    const r = await copy({ instance_id: b, direction: 'local_to_instance', remote_path: '/workspace/in/data.txt', local_path: 'up/data.txt' });
    expect(r.files[0].sha256).toBe(sha(buf));
    expect((await sh(b, 'sha256sum /workspace/in/data.txt; ls -a /workspace/in')).stdout.text).toBe(
      `${sha(buf)}  /workspace/in/data.txt\n.\n..\ndata.txt\n`,
    );
    expect(r.recorded_in_ledger).toBe(0);
  });

  it('resumes after the SSH connection drops mid-transfer, then verifies the whole file', async () => {
    // The first pass lists, hashes and starts the stream at once, and the stream may run ahead of the listing's
    // answer by the SSH channel window plus the server's write buffer (2 MiB each in ssh2): the drop comes past
    // both, so it falls in the download itself (a drop while listing is retried as a listing: nothing to resume).
    await sh(a, 'head -c 10000000 /dev/urandom > /workspace/big.bin');
    await simFetch(sim, 'POST', '/_sim/ssh-faults', { reset_after_bytes: 6_000_000 });
    const r = await copy({ instance_id: a, direction: 'instance_to_local', remote_path: '/workspace/big.bin', local_path: 'big.bin' });
    expect(r.files[0].attempts).toBe(2);
    expect(r.files[0].resumed_from).toBeGreaterThan(0);
    expect(sha(readFileSync(join(copyRoot, 'big.bin')))).toBe((await sh(a, 'sha256sum /workspace/big.bin')).stdout.text.slice(0, 64));
  });

  it('detects a corrupted byte, keeps no file and records nothing', async () => {
    await sh(a, 'head -c 500000 /dev/urandom > /workspace/flip.bin');
    const recorded = (await mcp.deps.ledger.verifiedCopiesFor(a)).length;
    await simFetch(sim, 'POST', '/_sim/ssh-faults', { flip_byte_at: 1234 });
    const r = await mcp.call('copy', { instance_id: a, direction: 'instance_to_local', remote_path: '/workspace/flip.bin', local_path: 'flip.bin' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Verification failed.*nothing was recorded/);
    expect(existsSync(join(copyRoot, 'flip.bin'))).toBe(false);
    expect(readdirSync(copyRoot).some((n) => n.includes('flip'))).toBe(false);
    expect(await mcp.deps.ledger.verifiedCopiesFor(a)).toHaveLength(recorded);
  });

  it.each([
    [{ remote_path: '/workspace/ckpt.pt', local_path: '../../etc/evil' }, /outside the copy root/],
    [{ remote_path: '/etc/passwd', local_path: 'x' }, /under \/workspace or \/root/],
    [{ remote_path: '/workspace/../etc/passwd', local_path: 'x' }, /must not contain/],
    [{ remote_path: 'workspace/x', local_path: 'x' }, /must be absolute/],
    [{ remote_path: '/workspace/missing', local_path: 'x' }, /does not exist on the instance/],
  ])('refuses %j', async (args, message) => {
    const r = await mcp.call('copy', { instance_id: a, direction: 'instance_to_local', ...args });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(message);
  });

  it('goes through the throttled proxy when asked, and it is slower, with progress notifications', async () => {
    const progress: { progress: number; total?: number }[] = [];
    const res = await mcp.call(
      'copy',
      { instance_id: a, direction: 'instance_to_local', remote_path: '/workspace/ckpt.pt', local_path: 'proxy2/ckpt.pt', prefer_proxy: true },
      (p) => progress.push(p),
    );
    expect(res.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.total).toBe(3_000_000);
    const r = await copy({
      instance_id: a,
      direction: 'instance_to_local',
      remote_path: '/workspace/ckpt.pt',
      local_path: 'proxy/ckpt.pt',
      prefer_proxy: true,
    });
    expect(r.endpoint).toBe('proxy');
    expect(r.mb_per_s).toBeLessThan(6);
  });

  it('lets destroy proceed after a verified copy, and destroy deletes the files', async () => {
    const root = sim.ssh!.sandbox.rootOf(a);
    expect(existsSync(join(root, 'workspace/ckpt.pt'))).toBe(true);
    const first = await mcp.call('destroy', { instance_id: a });
    const dialog = textOf(first);
    const [saved, notCovered] = dialog.split('NOT covered by a verified copy');
    expect(saved).toMatch(/Verified copies:[\s\S]*“\/workspace\/ckpt\.pt”/);
    // flip.bin never verified: it is named, with its size; the copied checkpoint is not.
    expect(notCovered).toMatch(/“\/workspace\/flip\.bin” \(\d/);
    expect(notCovered).not.toMatch(/ckpt\.pt/);
    const done = data(await mcp.call('destroy', { instance_id: a, approval_token: data(first).approval_token }));
    expect(done.status).toBe('destroyed');
    expect(existsSync(root)).toBe(false);
  });
});
