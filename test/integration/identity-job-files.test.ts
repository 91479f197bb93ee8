import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userCopyDir } from '../../server/identity/caller-deps.js';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import type { RunningSimulator } from '../../sim/server.js';
import { superviseUntilSettled } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

// An authenticated user's job reads its inputs from, and writes its outputs to, that user's own folder
// under the copy root, the folder their `copy` calls use; another user's folder is out of reach.
const data = (r: any) => r.structuredContent as any;
const as = (user: string): AuthInfo => ({ token: `tok-${user}`, clientId: 'c', scopes: [], extra: { user, team: 'ml' } });
let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
let who: AuthInfo = as('alice');
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  copyRoot = mkdtempSync(join(tmpdir(), 'identity-job-files-'));
  mcp = await connectInMemory(sim, { config: { copyRoot }, auth: () => who });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

const spec = {
  name: 'mine',
  image: 'pytorch/pytorch:latest',
  gpu_name: 'RTX 4090',
  disk_gb: 20,
  interruptible: false,
  command: 'vast-sim-trainer --steps 2 --every 2 --step-ms 20 --out /workspace/out --ckpt /workspace/checkpoints',
  inputs: [{ local_path: 'in/data.txt', remote_path: '/workspace/in/data.txt' }],
  outputs: ['/workspace/out/model.bin'],
  output_dir: 'out',
  max_cost_usd: 20,
  max_hours: 1,
  checkpoint_sync_seconds: 10,
  grace_seconds: 5,
};

describe("an authenticated user's job files", () => {
  it("come from and go to the submitter's folder; another user's input path does not exist for them", async () => {
    const alice = join(copyRoot, userCopyDir('alice'));
    mkdirSync(join(alice, 'in'), { recursive: true });
    writeFileSync(join(alice, 'in', 'data.txt'), 'alice data\n');
    // Bob (same team) names the same relative input: it is looked up in his folder, where it is not.
    who = as('bob');
    const bobs = await mcp.call('job_submit', spec);
    expect(bobs.isError).toBe(true);
    expect(textOf(bobs)).toMatch(/input in\/data\.txt does not exist under the copy root .*users\/bob-/);
    who = as('alice');
    const first = data(await mcp.call('job_submit', spec));
    expect(first.status, JSON.stringify(first)).toBe('needs_confirmation');
    const r = data(await mcp.call('job_submit', { ...spec, confirmation_token: first.confirmation_token }));
    const store = jobsRuntime(mcp.deps).store;
    await superviseUntilSettled(mcp.deps, sim, r.job_id, 'files-test');
    const job = (await store.getJob(r.job_id))!;
    expect(['succeeded', 'awaiting_user']).toContain(job.state);
    expect(job.outcome).toBe('succeeded');
    expect(existsSync(join(alice, 'out', 'model.bin'))).toBe(true);
    expect(existsSync(join(copyRoot, 'out'))).toBe(false);
    const arts = data(await mcp.call('job_artifacts', { job_id: r.job_id })).artifacts;
    expect(arts[0].location).toBe(join(alice, 'out', 'model.bin'));
  }, 150_000);
});
