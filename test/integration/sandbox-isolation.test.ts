import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

const SENTINEL = `HOSTSECRET${Date.now()}`;
const ALLOWED_ENV = new Set([
  'HOME',
  'PATH',
  'LANG',
  'VAST_CONTAINERLABEL',
  'CONTAINER_ID',
  'SIM_GPU_NAME',
  'SIM_GPU_COUNT',
  'SIM_GPU_RAM_MIB',
  'SIM_DRIVER',
  'SIM_CUDA',
  'PWD',
  'SHLVL',
  'OLDPWD',
  '_',
]);
let hostProcess: ChildProcess;

beforeAll(() => {
  // A process on the host holding a secret in its environment, as the MCP server holds VAST_API_KEY.
  hostProcess = spawn('sleep', ['120'], { env: { ...process.env, VAST_API_KEY: SENTINEL }, stdio: 'ignore' });
});
afterAll(() => {
  hostProcess.kill('SIGKILL');
});

async function withSim(isolation: string | undefined, f: (sim: RunningSimulator, mcp: Connected, id: number) => Promise<void>): Promise<void> {
  const saved = process.env.VAST_SIM_ISOLATION;
  if (isolation) process.env.VAST_SIM_ISOLATION = isolation;
  const sim = await startTestSim();
  if (saved === undefined) delete process.env.VAST_SIM_ISOLATION;
  else process.env.VAST_SIM_ISOLATION = saved;
  const id = await rentOne(sim, { env: { HF_TOKEN: 'hf_instance_env_value', '-p 8080:8080': '1' } });
  sim.world.clock.advance(600);
  const mcp = await connectInMemory(sim);
  try {
    await f(sim, mcp, id);
  } finally {
    await mcp.close();
    await sim.close();
  }
}

const PROBE = [
  'env | cut -d= -f1 | sort',
  'echo ---',
  'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c HOSTSECRET',
  'echo ---',
  'ls /proc | grep -c "^[0-9]"',
  'echo ---',
  `for p in /home /root/.config/vastai "${process.env.HOME}/.config" /work; do [ -e "$p/." ] && ls -A "$p" | head -3; done; echo end`,
].join('; ');

function checkIsolated(stdout: string, stateDir: string): void {
  const [envNames, secretHits, procCount, seen] = stdout.split('---\n');
  const names = envNames!.trim().split('\n').filter(Boolean);
  for (const n of names) expect(ALLOWED_ENV.has(n), `unexpected env var ${n} inside the instance`).toBe(true);
  expect(names).not.toContain('HF_TOKEN'); // env set at create is not visible in SSH sessions (vast docs)
  expect(names).not.toContain('VAST_API_KEY');
  expect(Number(secretHits!.trim())).toBe(0);
  expect(Number(procCount!.trim())).toBeLessThan(10); // its own processes only
  expect(seen).not.toContain(stateDir.split('/').pop());
  expect(seen!.trim()).toBe('end');
}

describe('the simulated instance is a sandbox', () => {
  it('namespace mode: clean environment, its own /proc, none of the host home or state', async () => {
    await withSim('namespace', async (_sim, mcp, id) => {
      const r = await mcp.call('ssh', { instance_id: id, command: PROBE });
      expect(r.isError, textOf(r)).toBeFalsy();
      checkIsolated((r.structuredContent as any).stdout.text, mcp.deps.config.stateDir);
    });
  }, 60_000);

  it.skipIf(!existsSync('/usr/bin/proot'))(
    'proot mode: the same guarantees',
    async () => {
      await withSim('proot', async (_sim, mcp, id) => {
        const r = await mcp.call('ssh', { instance_id: id, command: PROBE });
        expect(r.isError, textOf(r)).toBeFalsy();
        checkIsolated((r.structuredContent as any).stdout.text, mcp.deps.config.stateDir);
      });
    },
    60_000,
  );

  it('onstart still sees the env given at create (only SSH sessions do not)', async () => {
    const sim = await startTestSim();
    try {
      const c = await rentOne(sim, { env: { MY_SETTING: 'abc123' }, onstart: 'echo "setting=$MY_SETTING"' });
      sim.world.clock.advance(600);
      sim.world.tick();
      let log = '';
      for (let i = 0; i < 50 && !log.includes('onstart exited'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = sim.world.instances.get(c)!.logLines.join('\n');
      }
      expect(log).toContain('setting=abc123');
    } finally {
      await sim.close();
    }
  }, 30_000);

  it('with no isolation available, refuses to run commands rather than running them on the host', async () => {
    const marker = `/tmp/vast-sim-escape-${Date.now()}`;
    await withSim('none', async (_sim, mcp, id) => {
      const r = await mcp.call('ssh', { instance_id: id, command: `touch ${marker}; env` });
      const data = r.structuredContent as any;
      expect(data.exit_code).toBe(127);
      expect(data.stderr.text).toMatch(/cannot run commands isolated/);
      expect(data.stdout.text).toBe('');
      expect(existsSync(marker)).toBe(false);
    });
  }, 60_000);
});
