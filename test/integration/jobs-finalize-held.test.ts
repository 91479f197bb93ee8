import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftUnaccounted } from '../../scripts/campaign/jobs-invariants.js';
import { approvalBinding } from '../../server/jobs/finish.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { JobStore } from '../../server/store/job-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { smallTrainerJob, TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let store: JobStore;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-held-')) } });
  store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
});
afterAll(async () => {
  await store.close();
  await mcp.close();
  await sim.close();
});

const spec = JobSpecSchema.parse(smallTrainerJob('held'));

describe('a job whose last instance stopped before its outputs were copied', () => {
  it('waits for the user and names every instance it still holds, the earlier attempts too', async () => {
    // Attempt 1 was lost and stopped by a recovery (its disk kept); attempt 2 ran the command to the end,
    // then its instance stopped before FINALIZING copied the outputs off.
    const first = await rentOne(sim, { label: 'vast-user-job-held1-a1-000001' });
    const second = await rentOne(sim, { label: 'vast-user-job-held1-a2-000001' });
    sim.world.clock.advance(600);
    sim.world.tick();
    const now = sim.world.now();
    await store.createJob({ id: 'held1', name: spec.name, spec, now }, { binding: approvalBinding(spec) });
    const fence = (await store.acquireLease('job:held1', 'test-setup', 60, Date.now() / 1000))!;
    for (const [to, patch] of [
      ['PROVISIONING', {}],
      ['RUNNING', {}],
      ['RECOVERING', {}],
      ['RUNNING', {}],
      ['FINALIZING', { outcome: 'succeeded' }],
    ] as const)
      await store.transition(fence, 'held1', to, 'set up by the test', now, patch);
    const add = (n: number, instance_id: number, state: 'stopped' | 'running') =>
      store
        .addAttempt(fence, {
          job_id: 'held1',
          label: `vast-user-job-held1-a${n}-000001`,
          state: 'intent',
          offer_id: null,
          machine_id: n,
          instance_id: null,
          price_per_hour: 0.5,
        })
        .then(() => store.updateAttempt(fence, 'held1', n, { state, instance_id }));
    await add(1, first, 'stopped');
    await add(2, second, 'running');
    await store.releaseLease('job:held1', fence);
    for (const id of [first, second]) expect((await simFetch(sim, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status).toBe(200);
    sim.world.clock.advance(60);
    sim.world.tick();
    expect(sim.world.instances.get(second)!.actual).not.toBe('running');

    const sup = new Supervisor(mcp.deps, store, TEST_SUPERVISOR_SETTINGS, 'held-test');
    expect(await sup.acquireLock()).toBe(true);
    await sup.runOnce();
    await sup.releaseLock();

    const job = (await store.getJob('held1'))!;
    expect(job.state).toBe('awaiting_user');
    expect(job.waiting_for).toMatch(/^outputs: start the instance again or decide to discard them/);
    expect(job.waiting_for).toContain(`#${first}`);
    // What the jobs campaign judges: both stopped disks are accounted for (the current one as the job's instance).
    const left = [first, second].map((id) => ({ id, job_id: 'held1', gpu_billing: false }));
    const jobs = [{ job_id: 'held1', state: job.state, waiting_for: job.waiting_for, instance_id: second }];
    expect(leftUnaccounted({ left, jobs } as never)).toEqual([]);
  });
});
