import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { makeS3Client, readBackSha256 } from '../../server/copy/s3-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { trainerOutput } from '../../sim/trainer/trainer-script.js';
import { superviseUntilSettled } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { startTestSim } from '../helpers/sim.js';

// 13.1: a job's outputs go to an s3:// destination (with this server's credentials, never the instance's),
// each object read back and verified; teardown counts them; job_artifacts brings one back from the bucket.
const data = (r: any) => r.structuredContent as any;
let sim: RunningSimulator;
let s3: TestS3;
let mcp: Connected;
let copyRoot: string;
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  s3 = await startS3(['results']);
  copyRoot = mkdtempSync(join(tmpdir(), 'jobs-s3-'));
  mcp = await connectInMemory(sim, { config: { copyRoot, s3: s3.config } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
  await s3.close();
});

const args = (extra: Record<string, unknown>) => ({
  name: 'to-s3',
  image: 'pytorch/pytorch:latest',
  gpu_name: 'RTX 4090',
  disk_gb: 20,
  interruptible: false,
  command: 'vast-sim-trainer --steps 4 --every 2 --step-ms 20 --out /workspace/out --ckpt /workspace/checkpoints',
  outputs: ['/workspace/out/model.bin'],
  max_cost_usd: 20,
  max_hours: 1,
  checkpoint_sync_seconds: 10,
  grace_seconds: 5,
  ...extra,
});

describe('job outputs to S3', () => {
  it('refuses a job that says nowhere for its outputs, and an s3 prefix that escapes', async () => {
    const none = await mcp.call('job_submit', args({}));
    expect(none.isError).toBe(true);
    expect(textOf(none)).toMatch(/Say where the outputs go: output_dir .*output_s3_uri/);
    const bad = await mcp.call('job_submit', args({ output_s3_uri: 's3://results/a/../b' }));
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/plain path segments/);
    expect(sim.world.liveInstances()).toHaveLength(0);
  });

  it('copies every output to the bucket and to the local directory, verified at both; the instance is destroyed with the approval', async () => {
    const spec = args({ output_s3_uri: 's3://results/runs/r1', output_dir: 'local-out' });
    const first = data(await mcp.call('job_submit', spec));
    expect(first.status, JSON.stringify(first)).toBe('needs_confirmation');
    expect(textOf(await mcp.call('job_submit', spec))).toMatch(/→ local-out and s3:\/\/results\/runs\/r1 \(verified by sha256\)/);
    const r = data(await mcp.call('job_submit', { ...spec, grant_teardown_approval: true, confirmation_token: first.confirmation_token }));
    expect(r.status).toBe('submitted');
    const store = jobsRuntime(mcp.deps).store;
    await superviseUntilSettled(mcp.deps, sim, r.job_id, 's3-test');
    const job = (await store.getJob(r.job_id))!;
    expect(job.state, job.waiting_for ?? '').toBe('succeeded');

    const expected = createHash('sha256').update(trainerOutput(4)).digest('hex');
    const arts = data(await mcp.call('job_artifacts', { job_id: r.job_id })).artifacts;
    expect(arts.map((a: any) => [a.location.replace(copyRoot, '<root>'), a.sha256])).toEqual([
      ['<root>/local-out/model.bin', expected],
      ['s3://results/runs/r1/model.bin', expected],
    ]);
    const client = await makeS3Client(s3.config);
    expect((await readBackSha256(client, 'results', 'runs/r1/model.bin')).sha256).toBe(expected);
    client.destroy();
    const inst = (await store.attempts(r.job_id))[0]!.instance_id!;
    expect(sim.world.instances.get(inst)!.destroyedAt).not.toBeNull();

    // Brought back from the bucket into the copy root, checked again.
    const copied = data(await mcp.call('job_artifacts', { job_id: r.job_id, remote_path: '/workspace/out/model.bin', copy_to: 'back/model.bin' }));
    expect(copied.copied_to).toBe(join(copyRoot, 'back', 'model.bin'));
    expect(createHash('sha256').update(readFileSync(copied.copied_to)).digest('hex')).toBe(expected);
  }, 150_000);
});
