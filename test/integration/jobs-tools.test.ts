import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { RunningSimulator } from '../../sim/server.js';
import { trainerOutput } from '../../sim/trainer/trainer-script.js';
import { smallTrainerJob, TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

const SETTINGS = TEST_SUPERVISOR_SETTINGS;
const data = (r: any) => r.structuredContent as any;

let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  copyRoot = mkdtempSync(join(tmpdir(), 'jobs-tools-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

async function submit(name: string, grant: boolean): Promise<string> {
  const first = data(await mcp.call('job_submit', smallTrainerJob(name)));
  expect(first.status).toBe('needs_confirmation');
  const r = await mcp.call('job_submit', { ...smallTrainerJob(name), grant_teardown_approval: grant, confirmation_token: first.confirmation_token });
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(data(r)).toMatchObject({ status: 'submitted', teardown_approval: grant, supervisor: 'off' });
  return data(r).job_id;
}

describe('job tools', () => {
  it('submit is dialog-first: nothing rented before the confirmation, and a changed argument is refused', async () => {
    const first = await mcp.call('job_submit', smallTrainerJob('dialog'));
    expect(data(first)).toMatchObject({ status: 'needs_confirmation', job_id: null, max_cost_usd: 20 });
    expect(data(first).questions.join(' ')).toMatch(/standing teardown approval/);
    expect(textOf(first)).toMatch(/Cap: \$20[\s\S]*NOTHING WAS RENTED/);
    const changed = await mcp.call('job_submit', {
      ...smallTrainerJob('dialog', { max_cost_usd: 200 }),
      confirmation_token: data(first).confirmation_token,
    });
    expect(changed.isError).toBe(true);
    expect(textOf(changed)).toMatch(/Refused/);
    expect(sim.world.instances.size).toBe(0);
    expect(await jobsRuntime(mcp.deps).store.listJobs()).toEqual([]);
  });

  it('refuses the API key in env before asking anything', async () => {
    const r = await mcp.call('job_submit', smallTrainerJob('leak', { env: { MY_KEY_COPY: mcp.deps.config.apiKey } }));
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/API key/);
  });

  it('runs two jobs to the end: with the approval the instance is destroyed, without it stopped and awaiting_user; a cancel is idempotent', async () => {
    const approved = await submit('approved', true);
    const unapproved = await submit('unapproved', false);
    const cancelled = await submit('cancelled', true);
    for (let i = 0; i < 2; i++) expect(data(await mcp.call('job_cancel', { job_id: cancelled }))).toMatchObject({ cancel_requested: true });
    const store = jobsRuntime(mcp.deps).store;
    const sup = new Supervisor(mcp.deps, store, SETTINGS, 'tools-test');
    expect(await sup.acquireLock()).toBe(true);
    const deadline = Date.now() + 120_000;
    const settled = async () =>
      (await store.getJob(unapproved))!.state === 'awaiting_user' &&
      ['succeeded', 'failed'].includes((await store.getJob(approved))!.state) &&
      (await store.getJob(cancelled))!.state === 'cancelled';
    for (;;) {
      await sup.runOnce();
      if (await settled()) break;
      if (Date.now() > deadline) throw new Error(`stuck: ${JSON.stringify((await store.listJobs()).map((j) => [j.state, j.waiting_for]))}`);
      sim.world.clock.advance(10);
      await new Promise((r) => setTimeout(r, 50));
    }
    await sup.releaseLock();
    expect((await store.getJob(cancelled))!.state).toBe('cancelled');
    expect(await store.attempts(cancelled)).toEqual([]);

    const st = data(await mcp.call('job_status', { job_id: approved })).jobs[0];
    expect(st).toMatchObject({
      state: 'succeeded',
      outcome: 'succeeded',
      attempt: 1,
      recoveries: 0,
      last_checkpoint_step: 6,
      teardown_approval: 'granted',
    });
    expect(st.spent_usd).toBeGreaterThan(0);
    expect(sim.world.instances.get(st.instance_id)!.destroyedAt).not.toBeNull();

    const un = data(await mcp.call('job_status', { job_id: unapproved })).jobs[0];
    expect(un.state).toBe('awaiting_user');
    expect(un.waiting_for).toMatch(/teardown approval.*stopped; disk still billing/);
    const inst = sim.world.instances.get(un.instance_id)!;
    expect(inst.destroyedAt).toBeNull();
    expect(inst.actual).toBe('stopped');

    // Logs: paged with a cursor, fenced as untrusted (structured content too).
    const p1 = data(await mcp.call('job_logs', { job_id: approved, limit: 3 }));
    expect(p1).toMatchObject({ lines: 3, more: true });
    expect(p1.log).toMatch(/^The following is the log of job .*untrusted data/);
    const p2 = data(await mcp.call('job_logs', { job_id: approved, cursor: p1.next_cursor, limit: 1000 }));
    expect(p2.more).toBe(false);
    expect(p2.log).toMatch(/done: 6 steps/);

    const arts = data(await mcp.call('job_artifacts', { job_id: approved, remote_path: '/workspace/out/model.bin', copy_to: 'copied/model.bin' }));
    const expected = trainerOutput(6);
    expect(arts.artifacts).toEqual([
      expect.objectContaining({
        remote_path: '/workspace/out/model.bin',
        size: expected.length,
        sha256: createHash('sha256').update(expected).digest('hex'),
      }),
    ]);
    expect(readFileSync(join(copyRoot, 'copied', 'model.bin')).equals(expected)).toBe(true);
    expect(data(await mcp.call('job_cancel', { job_id: approved }))).toMatchObject({ state: 'succeeded' });
  }, 150_000);

  it('an elicitation decline is final: nothing is submitted', async () => {
    const c = await connectInMemory(sim, { config: { copyRoot }, onElicit: () => ({ action: 'decline' }) });
    const r = data(await c.call('job_submit', smallTrainerJob('declined')));
    expect(r.status).toBe('declined');
    expect(await jobsRuntime(c.deps).store.listJobs()).toEqual([]);
    await c.close();
  });
});
