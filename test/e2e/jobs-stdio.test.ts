import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERVISOR_LEASE } from '../../server/jobs/supervisor.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import { trainerOutput } from '../../sim/trainer/trainer-script.js';
import { cleanEnv, MAIN, runCli, spawnSim } from '../helpers/spawn.js';

const KEY = 'E2EKEY-jobs-5ca1ab1e-98765';
let sim: Awaited<ReturnType<typeof spawnSim>>;
let client: Client;
let stateDir: string;
let copyRoot: string;
let env: Record<string, string>;
const killed: number[] = [];

const ok = async (name: string, args: Record<string, unknown>): Promise<any> => {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
  return r.structuredContent;
};
async function supervisorPid(): Promise<number | null> {
  const store = SqliteJobStore.inStateDir(stateDir);
  try {
    const h = await store.leaseHolder(SUPERVISOR_LEASE, Date.now() / 1000);
    return h ? Number(h.owner.split(':')[1]) : null;
  } finally {
    await store.close();
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  sim = await spawnSim(['--port', '0', '--api-key', KEY, '--seed', 'e2e-jobs', '--offers', '600', '--time-scale', '30']);
  stateDir = mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-jobs-state-'));
  copyRoot = mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-jobs-copies-'));
  env = cleanEnv({
    VAST_URL: sim.url,
    VAST_API_KEY: KEY,
    VAST_MCP_STATE_DIR: stateDir,
    VAST_MCP_COPY_ROOT: copyRoot,
    VAST_MCP_JOBD_POLL_MS: '300',
    VAST_MCP_JOBD_CONFIRM_SECONDS: '20',
    VAST_MCP_JOBD_HEARTBEAT_STALE_SECONDS: '3000',
    VAST_MCP_JOBD_LEASE_SECONDS: '5',
    VAST_MCP_JOBD_IDLE_EXIT_SECONDS: '2',
  });
  const transport = new StdioClientTransport({ command: process.execPath, args: [MAIN], env, stderr: 'pipe' });
  client = new Client({ name: 'e2e-jobs', version: '1' });
  await client.connect(transport);
});
afterAll(async () => {
  await client?.close();
  const pid = stateDir ? await supervisorPid() : null;
  if (pid && alive(pid)) process.kill(pid, 'SIGTERM');
  await sim?.stop();
});

describe('a job through a real MCP client, a detached supervisor and the CLI', () => {
  it('submits with a cap, survives the supervisor being SIGKILLed, and ends with verified outputs and nothing billing', async () => {
    const args = {
      name: 'e2e',
      image: 'pytorch/pytorch:latest',
      gpu_name: 'RTX 4090',
      disk_gb: 20,
      interruptible: false,
      max_cost_usd: 5,
      max_hours: 1,
      command: 'vast-sim-trainer --steps 40 --every 5 --step-ms 400 --out /workspace/out --ckpt /workspace/checkpoints',
      outputs: ['/workspace/out/model.bin'],
      output_dir: 'e2e-out',
      checkpoint_sync_seconds: 10,
      grace_seconds: 5,
    };
    const proposal = await ok('job_submit', args);
    expect(proposal.status).toBe('needs_confirmation');
    const submitted = await ok('job_submit', { ...args, grant_teardown_approval: true, confirmation_token: proposal.confirmation_token });
    expect(submitted).toMatchObject({ status: 'submitted', teardown_approval: true, supervisor: 'started' });
    const id = submitted.job_id as string;

    const deadline = Date.now() + 150_000;
    let status: any;
    for (;;) {
      status = (await ok('job_status', { job_id: id })).jobs[0];
      if (['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user'].includes(status.state)) break;
      if (status.state === 'RUNNING' && killed.length === 0 && (status.last_checkpoint_step ?? 0) >= 5) {
        const pid = await supervisorPid();
        expect(pid).not.toBeNull();
        process.kill(pid!, 'SIGKILL');
        killed.push(pid!);
      }
      if (Date.now() > deadline) throw new Error(`job stuck: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status.state, JSON.stringify(status)).toBe('succeeded');
    expect(killed).toHaveLength(1);
    expect(alive(killed[0]!)).toBe(false);
    expect(status).toMatchObject({ attempt: 1, recoveries: 0, teardown_approval: 'granted' });
    expect(readFileSync(join(copyRoot, 'e2e-out', 'model.bin')).equals(trainerOutput(40))).toBe(true);
    const st = (await (await fetch(`${sim.url}/_sim/state`)).json()) as any;
    expect(st.instances.filter((i: any) => !i.destroyed)).toEqual([]);
    expect(JSON.stringify(st.instances)).not.toContain(KEY);

    const cli = await runCli(['jobs', 'status', id, '--state-dir', stateDir]);
    expect(cli.stdout).toMatch(new RegExp(`^${id} e2e: succeeded`));
    expect(cli.stdout).toMatch(/TEARDOWN → succeeded: teardown done/);
    const logs = await runCli(['jobs', 'logs', id, '--state-dir', stateDir, '--limit', '1000']);
    expect(logs.stdout).toMatch(/done: 40 steps/);
  }, 200_000);
});
