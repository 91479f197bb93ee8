import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalBinding } from '../../server/jobs/finish.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { simFetch, startTestSim } from '../helpers/sim.js';

/**
 * An interruptible rental outbid before it ever ran stays stopped (dstack's outbid row) or waits to
 * resume (the docs): either way the job must not wait for it until the provisioning deadline. The
 * campaign found a job stuck in RECOVERING on such a rental.
 */
let sim: RunningSimulator;
let mcp: Connected;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-outbid-prov-')) } });
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('a rental outbid while it provisions', () => {
  it.each(['outbid_stopped', 'outbid_resumable'] as const)('is given up after a second reading and another machine is rented (%s)', async (fault) => {
    const store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
    const s = JobSpecSchema.parse({
      name: `prov-${fault}`,
      image: 'pytorch/pytorch:latest',
      gpu_name: 'RTX 4090',
      disk_gb: 20,
      interruptible: true,
      command: 'vast-sim-trainer --steps 10 --every 5 --step-ms 20 --out /workspace/out --ckpt /workspace/checkpoints',
      outputs: ['/workspace/out/model.bin'],
      output_dir: `results-${fault}`,
      max_cost_usd: 50,
      max_hours: 2,
      grace_seconds: 5,
    });
    const jobId = `prov-${fault}`;
    await store.createJob({ id: jobId, name: s.name, spec: s, now: sim.world.now() }, { binding: approvalBinding(s) });
    const sup = new Supervisor(mcp.deps, store, TEST_SUPERVISOR_SETTINGS, `sup-${fault}`);
    expect(await sup.acquireLock()).toBe(true);
    try {
      // The first pass rents; the instance has not started yet when it is outbid.
      for (let i = 0; i < 5 && !(await store.attempts(jobId))[0]?.instance_id; i++) await sup.runOnce();
      const first = (await store.attempts(jobId))[0]!.instance_id!;
      expect(sim.world.instances.get(first)!.actual).not.toBe('running');
      expect((await simFetch(sim, 'POST', `/_sim/instances/${first}/fault`, { kind: fault }, null)).status).toBe(200);
      const deadline = Date.now() + 60_000;
      for (;;) {
        await sup.runOnce();
        const attempts = await store.attempts(jobId);
        if (attempts.length >= 2 && attempts[1]!.instance_id) break;
        if (Date.now() > deadline) throw new Error(`still on the first rental: ${(await store.getJob(jobId))!.waiting_for}`);
        // Well inside the 3600 s provisioning deadline: only the two readings may end the wait.
        sim.world.clock.advance(6);
        await new Promise((r) => setTimeout(r, 20));
      }
      const attempts = await store.attempts(jobId);
      expect(sim.world.now() - attempts[0]!.started_at!).toBeLessThan(TEST_SUPERVISOR_SETTINGS.provisionDeadlineSeconds);
      expect(attempts[0]!.state).toBe('stopped');
      expect(attempts[1]!.machine_id).not.toBe(attempts[0]!.machine_id);
      const events = await store.events(jobId);
      expect(events.some((e) => e.to_state === 'RECOVERING' && /did not start/.test(e.reason))).toBe(true);
    } finally {
      await sup.releaseLock();
      await store.close();
    }
  });
});
