import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { RunningSimulator } from '../../sim/server.js';
import { smallTrainerJob, TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

const SETTINGS = TEST_SUPERVISOR_SETTINGS;
const data = (r: any) => r.structuredContent as any;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user'];

let sim: RunningSimulator;
let mcp: Connected;
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-orphan-')), createCommitWindowMs: 200 } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

async function runWithLateCreates(name: string, lateCreates: number) {
  // Source of the fault: the simulator's late_commit (sim/faults.ts): the client hears nothing, the platform commits later.
  sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 2500, count: lateCreates });
  const a = smallTrainerJob(name);
  const first = data(await mcp.call('job_submit', a));
  const r = await mcp.call('job_submit', { ...a, grant_teardown_approval: true, confirmation_token: first.confirmation_token });
  expect(r.isError, `${textOf(r)}\n${mcp.logs.filter((l) => /error/i.test(l)).join('')}`).toBeFalsy();
  const id = data(r).job_id as string;
  const sup = new Supervisor(mcp.deps, jobsRuntime(mcp.deps).store, SETTINGS, `orphan-test-${name}`);
  expect(await sup.acquireLock()).toBe(true);
  const ofJob = () => [...sim.world.instances.values()].filter((i) => i.label?.includes(`-job-${id}-`));
  const lateOnes = () => ofJob().filter((i) => /-a1-[0-9a-f]{6}$/.test(i.label!));
  let status: any;
  const deadline = Date.now() + 90_000;
  for (;;) {
    await sup.runOnce();
    status = data(await mcp.call('job_status', { job_id: id })).jobs[0];
    // Until the job ended, nothing of it is meant to run, and the late rental has landed and is named to the user.
    const settled = ofJob().every((i) => i.destroyedAt !== null || i.intended === 'stopped');
    const named = lateOnes().length === 1 && (status.waiting_for ?? '').includes(`#${lateOnes()[0]!.id}`);
    if (TERMINAL.includes(status.state) && settled && named) break;
    if (Date.now() > deadline) throw new Error(`stuck: ${JSON.stringify(status)} ${JSON.stringify(ofJob().map((i) => [i.id, i.label, i.intended]))}`);
    sim.world.clock.advance(6);
    await new Promise((res) => setTimeout(res, 100));
  }
  // Settled means settled: more passes change nothing (no TEARDOWN ⇄ awaiting_user loop while nothing changed).
  for (let i = 0; i < 4; i++) {
    await sup.runOnce();
    sim.world.clock.advance(6);
  }
  const after = data(await mcp.call('job_status', { job_id: id })).jobs[0];
  expect(after.recent_events).toEqual(status.recent_events);
  await sup.releaseLock();
  const logs = data(await mcp.call('job_logs', { job_id: id, limit: 1000 })).log as string;
  return { id, status, late: lateOnes()[0]!, all: ofJob(), logs };
}

describe('orphan scan', () => {
  it('a rental that commits after its attempt was given up is found by its label, recorded, stopped (not destroyed) and reported', async () => {
    // Both tries of the first create commit late: the attempt is given up after two readings apart, a second one runs.
    const { status, late, all, logs } = await runWithLateCreates('given-up', 2);
    expect(status.attempt).toBe(2);
    expect(late.destroyedAt).toBeNull();
    expect(late.intended).toBe('stopped');
    expect(late.actual).toBe('stopped');
    expect(logs).toContain(`instance #${late.id} was rented after attempt 1 had been given up`);
    // Named to the user either way, never destroyed (no verified copy from it): by the job's teardown when it landed
    // first (awaiting_user), or by the scan on the ended job when it committed after the teardown (succeeded).
    expect(['awaiting_user', 'succeeded']).toContain(status.state);
    expect(status.waiting_for).toContain(`#${late.id}`);
    const ran = all.find((i) => i.id === status.instance_id)!;
    expect(ran.label).toMatch(/-a2-[0-9a-f]{6}$/);
    expect(ran.destroyedAt).not.toBeNull();
    expect(logs).toMatch(/done: 6 steps/);
    expect(all.filter((i) => i.destroyedAt === null && i.intended === 'running')).toEqual([]);
  }, 120_000);

  it("an earlier try of a create that commits after the retry succeeded is stopped and named in the job's status", async () => {
    const { status, late, all, logs } = await runWithLateCreates('retried', 1);
    expect(status.attempt).toBe(1);
    expect(status.instance_id).not.toBe(late.id);
    expect(late.destroyedAt).toBeNull();
    expect(late.intended).toBe('stopped');
    expect(logs).toContain(`instance #${late.id} (`);
    expect(['awaiting_user', 'succeeded']).toContain(status.state);
    expect(status.waiting_for).toContain(`#${late.id}`);
    expect(all.filter((i) => i.destroyedAt === null && i.intended === 'running')).toEqual([]);
  }, 120_000);
});
