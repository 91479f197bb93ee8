import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalBinding } from '../../server/jobs/finish.js';
import type { SupervisorSettings } from '../../server/jobs/job-context.js';
import { JobSpecSchema } from '../../server/jobs/job-spec.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import type { RunningSimulator } from '../../sim/server.js';
import { trainerOutput } from '../../sim/trainer/trainer-script.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

const SETTINGS: SupervisorSettings = {
  pollMs: 20,
  confirmSeconds: 10,
  heartbeatStaleSeconds: 60,
  provisionDeadlineSeconds: 3600,
  leaseSeconds: 60,
  sshReadinessMs: 5000,
  exitMarginSeconds: 60,
};
const STEPS = 150;

let sim: RunningSimulator;
let mcp: Connected;
let copyRoot: string;

beforeAll(async () => {
  sim = await startTestSim();
  copyRoot = mkdtempSync(join(tmpdir(), 'jobs-dead-'));
  mcp = await connectInMemory(sim, { config: { copyRoot } });
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('a worker that dies while the instance still runs', () => {
  it('is detected by its missing heartbeat (two readings) and the job resumes elsewhere to the same bytes', async () => {
    const store = SqliteJobStore.inStateDir(mcp.deps.config.stateDir);
    const s = JobSpecSchema.parse({
      name: 'dead',
      image: 'pytorch/pytorch:latest',
      gpu_name: 'RTX 4090',
      disk_gb: 20,
      interruptible: false,
      command: `vast-sim-trainer --steps ${STEPS} --every 5 --step-ms 100 --out /workspace/out --ckpt /workspace/checkpoints`,
      outputs: ['/workspace/out/model.bin'],
      output_dir: 'dead-out',
      checkpoint_sync_seconds: 10,
      max_cost_usd: 50,
      max_hours: 2,
      grace_seconds: 5,
    });
    await store.createJob({ id: 'dead', name: s.name, spec: s, now: sim.world.now() }, { binding: approvalBinding(s) });
    const sup = new Supervisor(mcp.deps, store, SETTINGS, 'dead-test');
    let killed = false;
    const deadline = Date.now() + 150_000;
    for (;;) {
      await sup.runOnce();
      const job = (await store.getJob('dead'))!;
      if (['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user'].includes(job.state)) break;
      if (!killed && job.state === 'RUNNING' && (job.checkpoint_step ?? 0) >= 10) {
        // Every process of the container but its init dies (OOM killer, a crash): the container itself keeps running.
        const id = (await store.attempts('dead'))[0]!.instance_id!;
        const r = await mcp.call('ssh', {
          instance_id: id,
          command: 'for p in $(ls /proc | grep -E "^[0-9]+$"); do [ "$p" -gt 1 ] && [ "$p" != $$ ] && kill -9 "$p" 2>/dev/null; done; echo killed',
        });
        expect(textOf(r)).toMatch(/killed/);
        killed = true;
      }
      sim.world.clock.advance(job.state === 'RUNNING' ? 5 : 15);
      if (Date.now() > deadline) throw new Error(`job stuck in ${job.state}: ${job.waiting_for}`);
      // Real time passes too: the worker ticks its heartbeat in the instance's own (real) seconds.
      await new Promise((r) => setTimeout(r, 250));
    }
    const job = (await store.getJob('dead'))!;
    const events = await store.events('dead');
    expect(job.state, events.map((e) => `${e.to_state}: ${e.reason}`).join('\n')).toBe('succeeded');
    expect(
      events.find((e) => e.to_state === 'RECOVERING')?.reason,
      (await store.logs('dead', 0, 100000))
        .map((l) => l.line)
        .slice(-15)
        .join('\n'),
    ).toMatch(/worker heartbeat missing/);
    const attempts = await store.attempts('dead');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.machine_id).not.toBe(attempts[1]!.machine_id);
    expect(readFileSync(join(copyRoot, 'dead-out', 'model.bin')).equals(trainerOutput(STEPS))).toBe(true);
    await store.close();
  }, 180_000);
});
