import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftUnaccounted } from '../../scripts/campaign/jobs-invariants.js';
import { gpuBilling } from '../../scripts/campaign/jobs-observe.js';
import { approvalBinding, stepTeardown } from '../../server/jobs/finish.js';
import { JobCtx } from '../../server/jobs/job-context.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import type { JobState } from '../../server/jobs/state-machine.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { JobStore } from '../../server/store/job-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { smallTrainerJob, TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

// A rental that no attempt records (an earlier try of a create, `<label>-rN`, that committed after its retry
// succeeded) must be named by the job that holds it, whatever state the job is in when the supervisor looks.

let sim: RunningSimulator;
let mcp: Connected;
let store: JobStore;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-orphan-naming-')) } });
  store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
});
afterAll(async () => {
  await store.close();
  await mcp.close();
  await sim.close();
});

const spec = JobSpecSchema.parse(smallTrainerJob('orphan-naming'));
const live = (id: number) => sim.world.instances.get(id)!;

type AttemptSetup = { instance: number | null; state: 'running' | 'destroyed' | 'abandoned' };

/** A job walked to `path`'s last state, with its attempts (labels `vast-user-job-<id>-a<n>-000001`). */
async function jobAt(id: string, path: JobState[], attempts: AttemptSetup[], jobSpec = spec): Promise<void> {
  const now = sim.world.now();
  await store.createJob({ id, name: jobSpec.name, spec: jobSpec, now }, { binding: approvalBinding(jobSpec) });
  const fence = (await store.acquireLease(`job:${id}`, 'test-setup', 60, Date.now() / 1000))!;
  for (const to of path) await store.transition(fence, id, to, 'set up by the test', now, to === 'FINALIZING' ? { outcome: 'succeeded' } : {});
  for (const [i, a] of attempts.entries()) {
    await store.addAttempt(fence, {
      job_id: id,
      label: `vast-user-job-${id}-a${i + 1}-000001`,
      state: 'intent',
      offer_id: null,
      machine_id: i + 1,
      instance_id: null,
      price_per_hour: 0.5,
    });
    await store.updateAttempt(fence, id, i + 1, {
      state: a.state,
      instance_id: a.instance,
      started_at: now,
      ended_at: a.state === 'running' ? null : now,
    });
  }
  await store.releaseLease(`job:${id}`, fence);
}

/** One TEARDOWN step, on its own (no orphan scan before it), under the job's lease. */
async function teardownOnce(id: string): Promise<void> {
  const fence = (await store.acquireLease(`job:${id}`, 'teardown-test', 60, Date.now() / 1000))!;
  try {
    await stepTeardown(new JobCtx(mcp.deps, store, fence, TEST_SUPERVISOR_SETTINGS, (await store.getJob(id))!));
  } finally {
    await store.releaseLease(`job:${id}`, fence);
  }
}

/** One supervisor pass (orphan scan, then every active job's step) by a fresh supervisor over `over`. */
async function onePass(owner: string, over: JobStore = store): Promise<void> {
  const sup = new Supervisor(mcp.deps, over, TEST_SUPERVISOR_SETTINGS, owner);
  expect(await sup.acquireLock()).toBe(true);
  try {
    await sup.runOnce();
  } finally {
    await sup.releaseLock();
  }
}

/** What the jobs campaign judges at the end, on the simulator's own view of these instances. */
function unaccounted(ids: number[], job: { id: string; state: string; waiting_for: string | null }, current: number | null): string[] {
  sim.world.clock.advance(30);
  sim.world.tick();
  const left = ids.map((id) => ({ id, job_id: job.id, gpu_billing: gpuBilling(live(id)) }));
  return leftUnaccounted({ left, jobs: [{ job_id: job.id, state: job.state, waiting_for: job.waiting_for, instance_id: current }] } as never);
}

describe('orphans the job does not record', () => {
  it("are looked for again on the next pass when a killed supervisor's lease still held the job, not a scan period later", async () => {
    const ran = await rentOne(sim, { label: 'vast-user-job-lease1-a1-000001' });
    expect((await simFetch(sim, 'DELETE', `/api/v0/instances/${ran}/`)).status).toBe(200);
    const orphan = await rentOne(sim, { label: 'vast-user-job-lease1-a1-000001-r1' });
    await jobAt('lease1', ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN', 'succeeded'], [{ instance: ran, state: 'destroyed' }]);
    // The supervisor that ended the job was SIGKILLed: its job lease stands for another second.
    expect(await store.acquireLease('job:lease1', 'killed-supervisor', 1, Date.now() / 1000)).not.toBeNull();

    const sup = new Supervisor(mcp.deps, store, TEST_SUPERVISOR_SETTINGS, 'lease-test');
    expect(await sup.acquireLock()).toBe(true);
    try {
      await sup.runOnce();
      expect(live(orphan).intended).toBe('running');
      expect((await store.getJob('lease1'))!.waiting_for ?? '').not.toContain(`#${orphan}`);
      await new Promise((r) => setTimeout(r, 1200));
      // No platform time passed: the old scan waited out its 60 s period here and the ended job never named it.
      await sup.runOnce();
    } finally {
      await sup.releaseLock();
    }
    expect(live(orphan).intended).toBe('stopped');
    expect(live(orphan).destroyedAt).toBeNull();
    const job = (await store.getJob('lease1'))!;
    expect(job.state).toBe('succeeded');
    expect(job.waiting_for).toContain(`#${orphan}`);
    expect(job.waiting_for).toMatch(/stopped, not destroyed/);
  });

  it('are taken in hand by the teardown itself (stopped, logged) and named in the status it writes, never destroyed', async () => {
    const ran = await rentOne(sim, { label: 'vast-user-job-tear1-a1-000001' });
    const orphan = await rentOne(sim, { label: 'vast-user-job-tear1-a1-000001-r2' });
    // Another job's rental (one whose label only starts the same) is none of this job's business.
    const other = await rentOne(sim, { label: 'vast-user-job-tear10-a1-000001' });
    await jobAt('tear1', ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN'], [{ instance: ran, state: 'running' }]);
    await teardownOnce('tear1');
    const job = (await store.getJob('tear1'))!;
    // No verified copy from either: both stopped, not destroyed, and both named after one step.
    expect(job.state).toBe('awaiting_user');
    expect(job.waiting_for).toContain(`#${ran}`);
    expect(job.waiting_for).toContain(`#${orphan} (rented by an earlier try of attempt 1; stopped, nothing was copied from it)`);
    expect(job.waiting_for).not.toContain(`#${other}`);
    for (const id of [ran, orphan]) {
      expect(live(id).intended).toBe('stopped');
      expect(live(id).destroyedAt).toBeNull();
    }
    expect(live(other).intended).toBe('running');
    const logs = (await store.logs('tear1', 0, 100)).map((l) => l.line).join('\n');
    expect(logs).toContain(`instance #${orphan} (vast-user-job-tear1-a1-000001-r2) was rented by an earlier try of attempt 1`);
    expect(unaccounted([ran, orphan], job, ran)).toEqual([]);
  });

  it("are named by a job that stops its instances (on_end 'stop'), which ends in its outcome, not waiting", async () => {
    // Attempt 1's create was given up, then committed late; attempt 2 ran the command.
    const late = await rentOne(sim, { label: 'vast-user-job-stop1-a1-000001' });
    const ran = await rentOne(sim, { label: 'vast-user-job-stop1-a2-000001' });
    const stopSpec = JobSpecSchema.parse(smallTrainerJob('orphan-stop', { on_end: 'stop' }));
    await jobAt(
      'stop1',
      ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN'],
      [
        { instance: null, state: 'abandoned' },
        { instance: ran, state: 'running' },
      ],
      stopSpec,
    );
    await teardownOnce('stop1');
    const job = (await store.getJob('stop1'))!;
    expect(job.state).toBe('succeeded');
    expect(job.waiting_for).toContain(`#${ran} (on_end is stop)`);
    expect(job.waiting_for).toContain(`#${late}`);
    // The late rental is recorded on the attempt that was given up, like any rental of the job.
    expect((await store.attempts('stop1'))[0]!.instance_id).toBe(late);
    for (const id of [late, ran]) {
      expect(live(id).intended).toBe('stopped');
      expect(live(id).destroyedAt).toBeNull();
    }
    expect(unaccounted([late, ran], job, ran)).toEqual([]);
  });

  it('are stopped and logged once when the orphan scan and the teardown meet them in the same pass', async () => {
    const ran = await rentOne(sim, { label: 'vast-user-job-once1-a1-000001' });
    const orphan = await rentOne(sim, { label: 'vast-user-job-once1-a1-000001-r1' });
    await jobAt('once1', ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN'], [{ instance: ran, state: 'running' }]);
    const stops = () => sim.requests.filter((r) => r.method === 'PUT' && r.path.replace(/\/$/, '') === `/api/v0/instances/${orphan}`).length;
    const stopsBefore = stops();
    await onePass('once-test');
    const job = (await store.getJob('once1'))!;
    expect(job.state).toBe('awaiting_user');
    expect(job.waiting_for).toContain(`#${orphan}`);
    const notes = (await store.logs('once1', 0, 100)).filter((l) => l.line.includes(`instance #${orphan} (`));
    expect(notes).toHaveLength(1);
    expect(stops() - stopsBefore).toBe(1);
  });

  it('are all named by an ended job, each appended to what it already names', async () => {
    const ran = await rentOne(sim, { label: 'vast-user-job-two1-a1-000001' });
    expect((await simFetch(sim, 'DELETE', `/api/v0/instances/${ran}/`)).status).toBe(200);
    const first = await rentOne(sim, { label: 'vast-user-job-two1-a1-000001-r1' });
    const second = await rentOne(sim, { label: 'vast-user-job-two1-a1-000001-r2' });
    await jobAt('two1', ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN', 'succeeded'], [{ instance: ran, state: 'destroyed' }]);
    await onePass('two-orphans-test');
    const job = (await store.getJob('two1'))!;
    expect(job.waiting_for).toContain(`#${first}`);
    expect(job.waiting_for).toContain(`#${second}`);
    expect(unaccounted([first, second], job, null)).toEqual([]);
  });

  it('are not taken for named when the job names another instance whose number merely starts the same', async () => {
    const ran = await rentOne(sim, { label: 'vast-user-job-pre1-a1-000001' });
    expect((await simFetch(sim, 'DELETE', `/api/v0/instances/${ran}/`)).status).toBe(200);
    const orphan = await rentOne(sim, { label: 'vast-user-job-pre1-a1-000001-r1' });
    await jobAt('pre1', ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN', 'succeeded'], [{ instance: ran, state: 'destroyed' }]);
    const fence = (await store.acquireLease('job:pre1', 'test-setup', 60, Date.now() / 1000))!;
    await store.updateJob(fence, 'pre1', { waiting_for: `held, disk still billing: #${orphan}7 (on_end is stop)` }, sim.world.now());
    await store.releaseLease('job:pre1', fence);
    await onePass('prefix-test');
    const job = (await store.getJob('pre1'))!;
    expect(job.waiting_for).toMatch(new RegExp(`#${orphan}7 \\(on_end is stop\\); orphan: instance #${orphan} \\(`));
    expect(live(orphan).intended).toBe('stopped');
  });

  it('stay named while the job waits, even when a pass over the waiting job fails', async () => {
    const ran = await rentOne(sim, { label: 'vast-user-job-wait1-a1-000001' });
    await jobAt('wait1', ['PROVISIONING', 'RUNNING', 'FINALIZING', 'TEARDOWN', 'awaiting_user'], [{ instance: ran, state: 'running' }]);
    const fence = (await store.acquireLease('job:wait1', 'test-setup', 60, Date.now() / 1000))!;
    const named = `teardown approval: #${ran} (no standing teardown approval (or it was revoked)) stopped; disk still billing`;
    await store.updateJob(fence, 'wait1', { waiting_for: named }, sim.world.now());
    await store.releaseLease('job:wait1', fence);
    // The store answers everything but the approval (a database hiccup): the waiting step throws.
    const flaky = new Proxy(store, {
      get(target, key) {
        if (key === 'approval') return async () => Promise.reject(new Error('connection reset'));
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await onePass('waiting-test', flaky);
    const job = (await store.getJob('wait1'))!;
    expect(job.state).toBe('awaiting_user');
    expect(job.waiting_for).toBe(named);
  });
});
