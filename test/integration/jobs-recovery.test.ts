import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalBinding } from '../../server/jobs/finish.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { JobStore } from '../../server/store/job-store.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { trainerOutput } from '../../sim/trainer/trainer-script.js';
import { TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { simFetch, startTestSim, TEST_KEY } from '../helpers/sim.js';

const SETTINGS = TEST_SUPERVISOR_SETTINGS;
const STEPS = 80;

let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
let pg: TestPostgres;

beforeAll(async () => {
  sim = await startTestSim();
  copyRoot = mkdtempSync(join(tmpdir(), 'jobs-copyroot-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
  pg = await startTestPostgres();
  // initdb and a first start are slow on a loaded machine.
}, 180_000);
afterAll(async () => {
  await pg?.stop();
  await mcp.close();
  await sim.close();
});

function spec(name: string) {
  return JobSpecSchema.parse({
    name,
    image: 'pytorch/pytorch:latest',
    gpu_name: 'RTX 4090',
    disk_gb: 20,
    interruptible: true,
    command: `vast-sim-trainer --steps ${STEPS} --every 10 --step-ms 150 --out /workspace/out --ckpt /workspace/checkpoints`,
    outputs: ['/workspace/out/model.bin'],
    output_dir: `results-${name}`,
    checkpoint_dir: '/workspace/checkpoints',
    checkpoint_sync_seconds: 10,
    max_cost_usd: 50,
    max_hours: 2,
    grace_seconds: 5,
  });
}

describe('a job outbid mid-run', () => {
  // The same run on the embedded SQLite store and on a real PostgreSQL 18 (the team store).
  it.each(['sqlite', 'postgres'] as const)(
    'resumes on another machine from its last verified checkpoint and ends with exactly the bytes of an uninterrupted run (%s store)',
    async (kind) => {
      const store: JobStore = kind === 'sqlite' ? SqliteJobStore.inStateDir(mcp.deps.config.stateDir) : new PgJobStore(await pg.newDatabase());
      const s = spec(`outbid-${kind}`);
      const jobId = `job1-${kind}`;
      await store.createJob({ id: jobId, name: s.name, spec: s, now: sim.world.now() }, { binding: approvalBinding(s) });
      const sup = new Supervisor(mcp.deps, store, SETTINGS, 'test-supervisor');
      expect(await sup.acquireLock()).toBe(true);
      let outbidAt: number | null = null;
      let maxRunningAtOnce = 0;
      const deadline = Date.now() + 150_000;
      for (;;) {
        await sup.runOnce();
        const job = (await store.getJob(jobId))!;
        const ids = (await store.attempts(jobId)).map((a) => a.instance_id).filter((x): x is number => x !== null);
        maxRunningAtOnce = Math.max(maxRunningAtOnce, ids.filter((id) => sim.world.instances.get(id)?.actual === 'running').length);
        if (['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user'].includes(job.state)) break;
        if (outbidAt === null && job.state === 'RUNNING' && (job.checkpoint_step ?? 0) >= 20) {
          outbidAt = job.checkpoint_step;
          const id = (await store.attempts(jobId))[0]!.instance_id!;
          expect((await simFetch(sim, 'POST', `/_sim/instances/${id}/fault`, { kind: 'outbid' }, null)).status).toBe(200);
        }
        // Provisioning is platform time; training is real time on the instance.
        sim.world.clock.advance(job.state === 'RUNNING' ? 5 : 15);
        if (Date.now() > deadline) throw new Error(`job stuck in ${job.state}: ${job.waiting_for}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const job = (await store.getJob(jobId))!;
      const events = await store.events(jobId);
      expect(job.state, `${job.waiting_for}\n${events.map((e) => `${e.to_state}: ${e.reason}`).join('\n')}`).toBe('succeeded');
      expect(outbidAt).not.toBeNull();
      const attempts = await store.attempts(jobId);
      expect(attempts).toHaveLength(2);
      expect(attempts[0]!.machine_id).not.toBe(attempts[1]!.machine_id);
      expect(events.map((e) => e.to_state)).toEqual([
        'SUBMITTED',
        'PROVISIONING',
        'RUNNING',
        'RECOVERING',
        'RUNNING',
        'FINALIZING',
        'TEARDOWN',
        'succeeded',
      ]);
      expect(events[3]!.reason).toMatch(/stopped.*confirmed by a second reading|confirmed by a second reading/);
      expect(maxRunningAtOnce).toBe(1);
      // The resumed worker started from the checkpoint copied off the first machine, not from zero.
      const logs = (await store.logs(jobId, 0, 10_000)).map((l) => l.line);
      expect(logs.some((l) => /^resumed from \/workspace\/checkpoints\/step-0000[2-9]0 at step [2-9]0$/.test(l))).toBe(true);
      const out = readFileSync(join(copyRoot, `results-${s.name}`, 'model.bin'));
      expect(out.equals(trainerOutput(STEPS))).toBe(true);
      expect(await store.artifacts(jobId)).toEqual([
        expect.objectContaining({ remote_path: '/workspace/out/model.bin', size: out.length, attempt: 2 }),
      ]);
      // Both instances destroyed (standing approval + verified copies), nothing left billing.
      for (const id of attempts.map((a) => a.instance_id!)) expect(sim.world.instances.get(id)!.destroyedAt).not.toBeNull();
      // No credential reached an instance.
      const state = (await simFetch(sim, 'GET', '/_sim/state', undefined, null)).json;
      expect(JSON.stringify(state.instances)).not.toContain(TEST_KEY);
      await sup.releaseLock();
      await store.close();
    },
    180_000,
  );

  it('stops at the cap: SIGTERM, final checkpoint verified, budget_exhausted, spend past the cap by at most one interval', async () => {
    const store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
    const s = JobSpecSchema.parse({
      ...spec('capped'),
      command: 'vast-sim-trainer --steps 400 --every 5 --step-ms 100 --out /workspace/out --ckpt /workspace/checkpoints',
      max_cost_usd: 0.08,
      interruptible: false,
    });
    await store.createJob({ id: 'job2', name: s.name, spec: s, now: sim.world.now() }, { binding: approvalBinding(s) });
    // This test is about the cap: the heartbeat (real seconds on the instance) is not judged against
    // the simulated clock this loop jumps ahead 300 s at a time.
    const sup = new Supervisor(mcp.deps, store, { ...SETTINGS, heartbeatStaleSeconds: 86_400 }, 'test-supervisor-2');
    const STEP = 300;
    const deadline = Date.now() + 120_000;
    for (;;) {
      await sup.runOnce();
      const job = (await store.getJob('job2'))!;
      if (['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user'].includes(job.state)) break;
      sim.world.clock.advance(job.state === 'RUNNING' && (job.checkpoint_step ?? 0) >= 5 ? STEP : 15);
      if (Date.now() > deadline) throw new Error(`job stuck in ${job.state}: ${job.waiting_for}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const job = (await store.getJob('job2'))!;
    const events = await store.events('job2');
    expect(job.state, events.map((e) => `${e.to_state}: ${e.reason}`).join('\n')).toBe('budget_exhausted');
    expect(events.map((e) => e.to_state)).toEqual(['SUBMITTED', 'PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN', 'budget_exhausted']);
    const logs = (await store.logs('job2', 0, 100_000)).map((l) => l.line);
    expect(logs).toContain('[supervisor] SIGTERM sent to the worker: budget_exhausted');
    const stoppedAt = Number(/SIGTERM at step (\d+)/.exec(logs.join('\n'))![1]);
    expect(job.checkpoint_step).toBe(stoppedAt);
    const a = (await store.attempts('job2'))[0]!;
    expect(job.spent_usd).toBeLessThanOrEqual(s.max_cost_usd + (a.price_per_hour! * STEP) / 3600 + 1e-9);
    expect(sim.world.instances.get(a.instance_id!)!.destroyedAt).not.toBeNull();
    await store.close();
  }, 150_000);
});
