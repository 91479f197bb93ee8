import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalBinding } from '../../server/jobs/finish.js';
import type { SupervisorSettings } from '../../server/jobs/job-context.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import { LeaseLost } from '../../server/store/job-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { simFetch, startTestSim } from '../helpers/sim.js';

const SETTINGS: SupervisorSettings = {
  pollMs: 20,
  confirmSeconds: 10,
  heartbeatStaleSeconds: 600,
  provisionDeadlineSeconds: 3600,
  leaseSeconds: 1,
  sshReadinessMs: 5000,
  exitMarginSeconds: 60,
};

let sim: RunningSimulator;
let mcp: Connected;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-restart-')) } });
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

const spec = (name: string) =>
  JobSpecSchema.parse({
    name,
    image: 'pytorch/pytorch:latest',
    gpu_name: 'RTX 4090',
    disk_gb: 20,
    interruptible: false,
    command: 'sleep 1000',
    outputs: ['/workspace/out'],
    output_dir: name,
    max_cost_usd: 10,
    max_hours: 1,
  });
const live = () => [...sim.world.instances.values()].filter((i) => i.destroyedAt === null);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('supervisor restart safety', () => {
  it('a rental that committed while the supervisor died is found by its label, never rented twice, and a stale supervisor is fenced out', async () => {
    const store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
    const s = spec('adopt');
    await store.createJob({ id: 'adopt', name: s.name, spec: s, now: sim.world.now() }, { binding: approvalBinding(s) });
    // Supervisor 1 wrote the intent, marked it sent, the platform created the instance, then supervisor 1 died.
    const dead = (await store.acquireLease('job:adopt', 'dead-supervisor', 1, Date.now() / 1000))!;
    await store.transition(dead, 'adopt', 'PROVISIONING', 'looking for an offer', sim.world.now());
    const offer = (
      await simFetch(sim, 'POST', '/api/v0/bundles/', {
        gpu_name: { eq: 'RTX 4090' },
        rentable: { eq: true },
        rented: { eq: false },
        order: [['dph_total', 'asc']],
        limit: 1,
        allocated_storage: 20,
      })
    ).json.offers[0];
    await store.addAttempt(dead, {
      job_id: 'adopt',
      label: 'ada-job-adopt-a1-abcdef',
      state: 'sent',
      offer_id: offer.id,
      machine_id: offer.machine_id,
      instance_id: null,
      price_per_hour: 0.5,
    });
    const created = await simFetch(sim, 'PUT', `/api/v0/asks/${offer.id}/`, {
      client_id: 'me',
      image: 'pytorch/pytorch',
      disk: 20,
      runtype: 'ssh_direc ssh_proxy',
      label: 'ada-job-adopt-a1-abcdef',
    });
    expect(created.status).toBe(200);
    expect(live()).toHaveLength(1);

    const sup = new Supervisor(mcp.deps, store, SETTINGS, 'new-supervisor');
    await pause(1100); // the dead supervisor's lease expires
    for (let i = 0; i < 4; i++) {
      await sup.runOnce();
      sim.world.clock.advance(5);
    }
    expect(await store.attempts('adopt')).toEqual([expect.objectContaining({ n: 1, state: 'rented', instance_id: created.json.new_contract })]);
    expect(live()).toHaveLength(1);
    // The dead supervisor wakes up: every write it tries is refused.
    await expect(store.transition(dead, 'adopt', 'RECOVERING', 'stale', sim.world.now())).rejects.toThrow(LeaseLost);
    await expect(store.updateAttempt(dead, 'adopt', 1, { state: 'abandoned' })).rejects.toThrow(LeaseLost);
    expect((await store.attempts('adopt'))[0]!.state).toBe('rented');

    // Cancel while provisioning: the approval alone is not enough, there is no verified copy: stopped, not destroyed.
    await store.requestCancel('adopt', sim.world.now());
    for (let i = 0; i < 4 && (await store.getJob('adopt'))!.state !== 'awaiting_user'; i++) await sup.runOnce();
    const job = (await store.getJob('adopt'))!;
    expect(job.state).toBe('awaiting_user');
    expect(job.waiting_for).toMatch(/no verified copy from it since its last start/);
    const inst = sim.world.instances.get(created.json.new_contract)!;
    expect(inst.destroyedAt).toBeNull();
    expect(inst.intended).toBe('stopped');
    await store.close();
  }, 60_000);

  it('an intent never sent, and a sent request that never reached the platform, end with exactly one rental', async () => {
    const before = live().length;
    const store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
    const s = spec('lost');
    await store.createJob({ id: 'lost', name: s.name, spec: s, now: sim.world.now() }, null);
    const dead = (await store.acquireLease('job:lost', 'dead-supervisor', 1, Date.now() / 1000))!;
    await store.transition(dead, 'lost', 'PROVISIONING', 'looking for an offer', sim.world.now());
    await store.addAttempt(dead, {
      job_id: 'lost',
      label: 'ada-job-lost-a1-000000',
      state: 'intent',
      offer_id: 1,
      machine_id: 1,
      instance_id: null,
      price_per_hour: 0.5,
    });
    const sup = new Supervisor(mcp.deps, store, SETTINGS, 'new-supervisor-2');
    await pause(1100);
    await sup.runOnce();
    expect((await store.attempts('lost'))[0]!.state).toBe('abandoned');
    // A second attempt was "sent" but the platform never saw it: abandoned only after two readings apart.
    const f = (await store.acquireLease('job:lost', 'new-supervisor-2', 1, Date.now() / 1000))!;
    await store.addAttempt(f, {
      job_id: 'lost',
      label: 'ada-job-lost-a2-000000',
      state: 'sent',
      offer_id: 1,
      machine_id: 1,
      instance_id: null,
      price_per_hour: 0.5,
    });
    await sup.runOnce();
    expect((await store.attempts('lost'))[1]!.state).toBe('sent');
    sim.world.clock.advance(11);
    await sup.runOnce();
    expect((await store.attempts('lost'))[1]!.state).toBe('abandoned');
    await sup.runOnce();
    const third = (await store.attempts('lost'))[2]!;
    expect(third.state).toBe('rented');
    expect(live().length).toBe(before + 1);
    expect(live().filter((i) => i.label?.startsWith('ada-job-lost-'))).toHaveLength(1);
    await store.close();
  }, 60_000);
});
