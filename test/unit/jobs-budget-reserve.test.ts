import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerDeps } from '../../server/deps.js';
import { noteVisit, stopReserveUsd } from '../../server/jobs/budget-reserve.js';
import { JobCtx } from '../../server/jobs/job-context.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import { stepLaunch } from '../../server/jobs/launch.js';
import { newMemo, type SupervisorMemo } from '../../server/jobs/monitor.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import { TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';

/**
 * Seed s5-jobs-b of the jobs campaign: twelve jobs provisioned in one slow supervisor pass (about 72 platform
 * seconds from rental to the first look at a running instance). Jobs with caps of $0.004–0.006 had spent all
 * or nearly all of it before their worker was started, and the worker was started anyway; the first look while
 * it ran came a whole pass later, after the command had finished, and they ended 2–3× over their cap.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const RENTED_AT = 1000;

async function provisionedJob(o: { cap: number; perHour: number; writtenAt?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'jobs-budget-'));
  dirs.push(dir);
  const store = new SqliteJobStore(join(dir, 'jobs.sqlite'));
  const spec = JobSpecSchema.parse({
    name: 'capped',
    image: 'ubuntu:22.04',
    command: 'train',
    disk_gb: 20,
    interruptible: false,
    outputs: ['/workspace/out/model.bin'],
    output_dir: 'out',
    max_cost_usd: o.cap,
    checkpoint_sync_seconds: 10,
    grace_seconds: 5,
  });
  await store.createJob({ id: 'j1', name: 'capped', spec, now: RENTED_AT - 10 }, null);
  const fence = (await store.acquireLease('job:j1', 'sup', 60, Date.now() / 1000))!;
  await store.transition(fence, 'j1', 'PROVISIONING', 'looking for an offer', RENTED_AT - 5);
  await store.addAttempt(fence, {
    job_id: 'j1',
    label: 'ada-job-j1-a1-abcdef',
    state: 'intent',
    offer_id: 1,
    machine_id: 2,
    instance_id: null,
    price_per_hour: o.perHour,
  });
  await store.updateAttempt(fence, 'j1', 1, { state: 'rented', started_at: RENTED_AT, instance_id: 77 });
  if (o.writtenAt !== undefined) await store.updateJob(fence, 'j1', { waiting_for: null }, o.writtenAt);
  const clock = { now: RENTED_AT };
  const deps = {
    now: () => clock.now,
    logger: { info: () => undefined, warn: () => undefined },
    config: { stateDir: dir, copyRoot: dir },
    vast: { getInstance: async (id: number) => ({ id, actual_status: 'running', intended_status: 'running', status_msg: null }) },
  } as unknown as ServerDeps;
  const sessions: number[] = [];
  const ctxAt = async (now: number) => {
    clock.now = now;
    const ctx = new JobCtx(deps, store, fence, TEST_SUPERVISOR_SETTINGS, (await store.getJob('j1'))!);
    // The worker is started over SSH: counted, never opened.
    ctx.withSession = (async (id: number) => {
      sessions.push(id);
    }) as JobCtx['withSession'];
    return ctx;
  };
  return { store, ctxAt, sessions };
}

describe('the cap before the worker starts', () => {
  it('does not start the worker when provisioning already spent the cap (job ed3b90ed: $0.2347/h, cap $0.0047, 72.4 s)', async () => {
    const { store, ctxAt, sessions } = await provisionedJob({ cap: 0.0047, perHour: 0.2347 });
    const memo = newMemo();
    await stepLaunch(await ctxAt(RENTED_AT + 72.4), memo);
    const job = (await store.getJob('j1'))!;
    expect(sessions).toEqual([]);
    expect(job.state).toBe('TEARDOWN');
    expect(job.outcome).toBe('budget_exhausted');
    expect((await store.events('j1')).at(-1)!.reason).toMatch(/while instance #77 provisioned/);
  });

  it('reserves the observed time between two looks (job dae30c6f: $0.2465/h, cap $0.0058, 77.1 s, looks 28 s apart)', async () => {
    const { store, ctxAt, sessions } = await provisionedJob({ cap: 0.0058, perHour: 0.2465 });
    const memo: SupervisorMemo = newMemo();
    // The pass before (instance still loading), then the one that finds it running, 28 platform seconds later.
    noteVisit(memo, 'j1', RENTED_AT + 49.1);
    noteVisit(memo, 'j1', RENTED_AT + 77.1);
    await stepLaunch(await ctxAt(RENTED_AT + 77.1), memo);
    expect(sessions).toEqual([]);
    expect((await store.getJob('j1'))!.outcome).toBe('budget_exhausted');
  });

  it('after a supervisor restart, does not start the worker on a reserve of three poll pauses (seed s5-jobs, job f82531dd)', async () => {
    // $0.1423/h, cap $0.0059. The supervisor was SIGKILLed while the instance loaded; its successor's first look
    // found it running 93.5 s after the rental, remembered no gap between looks, reserved 3 poll pauses and the
    // grace (about 5 s) and started the worker. Its next look came a 46 s pass later, the stop took three more:
    // $0.0068 spent, $0.0001 beyond one interval. The job was last written at the rental.
    const { store, ctxAt, sessions } = await provisionedJob({ cap: 0.0059, perHour: 0.1423, writtenAt: RENTED_AT });
    const memo = newMemo();
    const job = (await store.getJob('j1'))!;
    noteVisit(memo, 'j1', RENTED_AT + 93.5, job.updated_at);
    await stepLaunch(await ctxAt(RENTED_AT + 93.5), memo);
    expect(sessions).toEqual([]);
    const after = (await store.getJob('j1'))!;
    expect(after.state).toBe('TEARDOWN');
    expect(after.outcome).toBe('budget_exhausted');
  });

  it('starts the worker when the cap leaves room for the stop', async () => {
    const { store, ctxAt, sessions } = await provisionedJob({ cap: 0.0058, perHour: 0.2465 });
    const memo = newMemo();
    noteVisit(memo, 'j1', RENTED_AT + 2);
    noteVisit(memo, 'j1', RENTED_AT + 6);
    await stepLaunch(await ctxAt(RENTED_AT + 6), memo);
    expect(sessions).toEqual([77]);
    const job = (await store.getJob('j1'))!;
    expect(job.state).toBe('RUNNING');
    expect(job.outcome).toBeNull();
  });
});

describe('the cap before a relaunch', () => {
  it('does not rent again when the budget left covers one poll pause but not the stop of the new rental', async () => {
    // Attempt 1 ran 100 s at $0.1423/h and was lost: $0.0040 of the $0.0059 cap spent. A new rental at $0.1500/h
    // needs three 20 s gaps, the grace and one more gap to run (85 s, $0.0035); the old check wanted 0.02 s.
    const { store, ctxAt, sessions } = await provisionedJob({ cap: 0.0059, perHour: 0.1423 });
    const fence = (await store.acquireLease('job:j1', 'sup', 60, Date.now() / 1000))!;
    await store.updateAttempt(fence, 'j1', 1, { state: 'lost', ended_at: RENTED_AT + 100 });
    await store.transition(fence, 'j1', 'RECOVERING', 'instance lost', RENTED_AT + 100);
    const ctx = await ctxAt(RENTED_AT + 110);
    const rentals: number[] = [];
    const offer = { id: 5, machine_id: 9, gpu_name: 'RTX 4090', num_gpus: 1, dph_total: 0.15, dph_base: 0.15, storage_cost: 0, disk_space: 100 };
    Object.assign(ctx.deps, {
      profiles: { profiles: {}, budgets: {} },
      config: { ...ctx.deps.config, bidMultiplier: 1.2 },
      audit: { record: () => undefined },
      vast: {
        searchOffersPage: async () => ({ offers: [offer], returned: 1 }),
        // Reached only on the way to a rental: counted, then nothing is rented.
        currentUser: async () => {
          rentals.push(offer.id);
          throw new Error('no rentals in this test');
        },
      },
    });
    const memo = newMemo();
    noteVisit(memo, 'j1', RENTED_AT + 90);
    noteVisit(memo, 'j1', RENTED_AT + 110);
    await stepLaunch(ctx, memo);
    expect(rentals).toEqual([]);
    expect(sessions).toEqual([]);
    expect((await store.attempts('j1')).length).toBe(1);
    const job = (await store.getJob('j1'))!;
    expect(job.state).toBe('TEARDOWN');
    expect(job.outcome).toBe('budget_exhausted');
  });
});

describe('the stop reserve', () => {
  it('counts three observed gaps between looks, the grace and the final copies', async () => {
    const { ctxAt } = await provisionedJob({ cap: 0.0058, perHour: 0.2465 });
    const ctx = await ctxAt(RENTED_AT);
    const memo = newMemo();
    // Nothing observed yet (a supervisor just started): the poll pause.
    expect(stopReserveUsd(ctx, memo, 3600)).toBeCloseTo(3 * 0.02 + 5, 6);
    noteVisit(memo, 'j1', 10);
    noteVisit(memo, 'j1', 38);
    memo.syncSeconds.set('j1', 2);
    // One output to one destination plus the final checkpoint: two copies.
    expect(stopReserveUsd(ctx, memo, 3600)).toBeCloseTo(3 * 28 + 5 + 2 * 2, 6);
  });

  it('after a long outage, a first look assumes a gap of at most 15 minutes, not the outage', async () => {
    const { ctxAt } = await provisionedJob({ cap: 10, perHour: 1 });
    const ctx = await ctxAt(RENTED_AT);
    const memo = newMemo();
    noteVisit(memo, 'j1', RENTED_AT + 6 * 3600, RENTED_AT);
    expect(memo.passGap.get('j1')).toBe(900);
    expect(stopReserveUsd(ctx, memo, 3600)).toBeCloseTo(3 * 900 + 5, 6);
    // A short one is taken as it is.
    const fresh = newMemo();
    noteVisit(fresh, 'j1', RENTED_AT + 46, RENTED_AT);
    expect(fresh.passGap.get('j1')).toBe(46);
  });
});
