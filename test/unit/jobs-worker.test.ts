import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentOnstart } from '../../server/jobs/worker-agent.js';
import { TRAINER_COMMAND, TRAINER_SCRIPT, trainerOutput } from '../../sim/trainer/trainer-script.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.pid)
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function box(): { root: string; bin: string; env: NodeJS.ProcessEnv } {
  const root = mkdtempSync(join(tmpdir(), 'jobs-worker-'));
  dirs.push(root);
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, TRAINER_COMMAND), TRAINER_SCRIPT);
  chmodSync(join(bin, TRAINER_COMMAND), 0o755);
  return { root, bin, env: { PATH: `${bin}:/usr/bin:/bin`, HOME: root } };
}

async function until<T>(what: string, probe: () => T | null | undefined | false, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function startAgent(b: ReturnType<typeof box>, agentDir: string, command: string, ckpt: string): ChildProcess {
  const onstart = join(b.root, `onstart-${readdirSync(b.root).length}.sh`);
  writeFileSync(onstart, agentOnstart({ command, checkpointDir: ckpt, graceSeconds: 5, heartbeatSeconds: 1 }, agentDir));
  const child = spawn('sh', [onstart], { env: b.env, detached: true, stdio: 'ignore' });
  children.push(child);
  return child;
}

describe('deterministic trainer', () => {
  it('ends with the known bytes and writes checkpoints whose manifest marks them complete', async () => {
    const b = box();
    const out = join(b.root, 'out');
    const ckpt = join(b.root, 'ckpt');
    const child = spawn(join(b.bin, TRAINER_COMMAND), ['--steps', '9', '--every', '3', '--out', out, '--ckpt', ckpt, '--step-ms', '1'], {
      env: b.env,
      stdio: 'ignore',
    });
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(readFileSync(join(out, 'model.bin')).equals(trainerOutput(9))).toBe(true);
    expect(readdirSync(ckpt).sort()).toEqual(['step-000003', 'step-000006', 'step-000009']);
    expect(readFileSync(join(ckpt, 'step-000006', 'manifest'), 'utf8')).toMatch(/^step=6\nstate_sha256=[0-9a-f]{64}\n$/);
  });
});

describe('worker agent', () => {
  it('waits for go, runs the command with a heartbeat and numbered logs, and records the exit code', async () => {
    const b = box();
    const agent = join(b.root, 'agent');
    const ckpt = join(b.root, 'ckpt');
    startAgent(b, agent, `${TRAINER_COMMAND} --steps 6 --every 2 --out ${b.root}/out --ckpt ${ckpt} --step-ms 1`, ckpt);
    await until('heartbeat', () => existsSync(join(agent, 'heartbeat')));
    expect(existsSync(join(b.root, 'out'))).toBe(false);
    writeFileSync(join(agent, 'go'), '');
    const code = await until('exit code', () => existsSync(join(agent, 'exit_code')) && readFileSync(join(agent, 'exit_code'), 'utf8').trim());
    expect(code).toBe('0');
    expect(readdirSync(join(agent, 'logs'))).toEqual(['0001.log']);
    expect(readFileSync(join(agent, 'logs', '0001.log'), 'utf8')).toMatch(/RESUME_FROM=none[\s\S]*done: 6 steps/);
    expect(readFileSync(join(b.root, 'out', 'model.bin')).equals(trainerOutput(6))).toBe(true);
  });

  it('forwards SIGTERM (the trainer checkpoints and exits 143) and a relaunch elsewhere resumes to the same bytes', async () => {
    const b = box();
    const ckpt = join(b.root, 'ckpt');
    const cmd = (out: string, ck: string) => `${TRAINER_COMMAND} --steps 40 --every 5 --out ${out} --ckpt ${ck} --step-ms 40`;
    const a1 = join(b.root, 'agent1');
    startAgent(b, a1, cmd(join(b.root, 'out1'), ckpt), ckpt);
    await until('heartbeat', () => existsSync(join(a1, 'heartbeat')));
    writeFileSync(join(a1, 'go'), '');
    await until('first checkpoint', () => existsSync(join(ckpt, 'step-000005', 'manifest')));
    process.kill(Number(readFileSync(join(a1, 'agent.pid'), 'utf8')), 'SIGTERM');
    const code = await until('exit code', () => existsSync(join(a1, 'exit_code')) && readFileSync(join(a1, 'exit_code'), 'utf8').trim());
    expect(code).toBe('143');
    expect(existsSync(join(a1, 'terminated'))).toBe(true);
    const log = readFileSync(join(a1, 'logs', '0001.log'), 'utf8');
    expect(log).toMatch(/agent: SIGTERM, forwarding/);
    const stopped = Number(/SIGTERM at step (\d+)/.exec(log)![1]);
    expect(existsSync(join(ckpt, `step-${String(stopped).padStart(6, '0')}`, 'manifest'))).toBe(true);
    expect(stopped).toBeLessThan(40);
    // "Another machine": a fresh agent dir and a copy of the checkpoints only.
    const ckpt2 = join(b.root, 'ckpt2');
    cpSync(ckpt, ckpt2, { recursive: true });
    const a2 = join(b.root, 'agent2');
    startAgent(b, a2, cmd(join(b.root, 'out2'), ckpt2), ckpt2);
    await until('heartbeat 2', () => existsSync(join(a2, 'heartbeat')));
    writeFileSync(join(a2, 'go'), '');
    expect(await until('exit code 2', () => existsSync(join(a2, 'exit_code')) && readFileSync(join(a2, 'exit_code'), 'utf8').trim(), 60_000)).toBe(
      '0',
    );
    expect(readFileSync(join(a2, 'logs', '0001.log'), 'utf8')).toContain(
      `resumed from ${ckpt2}/step-${String(stopped).padStart(6, '0')} at step ${stopped}`,
    );
    expect(readFileSync(join(b.root, 'out2', 'model.bin')).equals(trainerOutput(40))).toBe(true);
  }, 90_000);
});
