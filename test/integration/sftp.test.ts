import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';
import { generateEd25519 } from '../../server/ssh/keygen.js';

let sim: RunningSimulator;
let id: number;
let keyFile: string;
let privateKey: string;

beforeAll(async () => {
  sim = await startTestSim();
  const pair = generateEd25519('sftp-test');
  privateKey = pair.private;
  keyFile = join(mkdtempSync(join(tmpdir(), 'sftp-key-')), 'id');
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  await simFetch(sim, 'POST', '/api/v0/ssh/', { ssh_key: pair.public });
  id = await rentOne(sim);
  sim.world.clock.advance(600);
});
afterAll(async () => {
  await sim.close();
});

function sftpSession(): Promise<{ sftp: ssh2.SFTPWrapper; end(): void }> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => c.sftp((e, sftp) => (e ? reject(e) : resolve({ sftp, end: () => c.end() }))));
    c.on('error', reject);
    c.connect({ host: '127.0.0.1', port: sim.world.instances.get(id)!.directSshPort!, username: 'root', privateKey });
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += String(d)));
    c.on('close', (code) => resolve({ code, stderr }));
  });
}

const p = <T>(fn: (cb: (e: Error | null | undefined, v?: T) => void) => void) =>
  new Promise<T>((res, rej) => fn((e, v) => (e ? rej(e) : res(v as T))));

describe('SFTP into a simulated instance', () => {
  it('writes, lists, renames and removes inside the instance, and refuses paths outside it', async () => {
    const { sftp, end } = await sftpSession();
    try {
      await p<void>((cb) => sftp.mkdir('/workspace/d', cb));
      await p<void>((cb) => sftp.writeFile('/workspace/d/a.txt', 'hello sftp', cb));
      expect((await p<ssh2.FileEntryWithStats[]>((cb) => sftp.readdir('/workspace/d', cb))).map((e) => e.filename)).toEqual(['a.txt']);
      await p<void>((cb) => sftp.rename('/workspace/d/a.txt', '/workspace/d/b.txt', cb));
      expect(readFileSync(join(sim.ssh!.sandbox.rootOf(id), 'workspace/d/b.txt'), 'utf8')).toBe('hello sftp');
      await expect(p<void>((cb) => sftp.writeFile('/etc/evil', 'x', cb))).rejects.toThrow(/only \/workspace and \/root|Permission denied/);
      await p<void>((cb) => sftp.unlink('/workspace/d/b.txt', cb));
      await p<void>((cb) => sftp.rmdir('/workspace/d', cb));
      expect(existsSync(join(sim.ssh!.sandbox.rootOf(id), 'workspace/d'))).toBe(false);
    } finally {
      end();
    }
  });

  it.runIf(spawnSync('sh', ['-c', 'command -v scp']).status === 0)('works with OpenSSH scp both ways, byte for byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scp-'));
    const data = Buffer.alloc(3_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    writeFileSync(join(dir, 'up.bin'), data);
    const port = String(sim.world.instances.get(id)!.directSshPort);
    const opts = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-i', keyFile, '-P', port];
    // Asynchronously: the simulator answering scp runs in this very process.
    const up = await run('scp', [...opts, join(dir, 'up.bin'), 'root@127.0.0.1:/workspace/up.bin']);
    expect(up.code, up.stderr).toBe(0);
    const down = await run('scp', [...opts, 'root@127.0.0.1:/workspace/up.bin', join(dir, 'down.bin')]);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(dir, 'down.bin')).equals(data)).toBe(true);
  });
});
