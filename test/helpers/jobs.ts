import type { SupervisorSettings } from '../../server/jobs/job-context.js';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { ServerDeps } from '../../server/deps.js';
import type { RunningSimulator } from '../../sim/server.js';

/** Supervisor timings for in-process job tests: fast passes, generous confirmation and heartbeat windows. */
export const TEST_SUPERVISOR_SETTINGS: SupervisorSettings = {
  pollMs: 20,
  confirmSeconds: 10,
  heartbeatStaleSeconds: 600,
  provisionDeadlineSeconds: 3600,
  leaseSeconds: 60,
  sshReadinessMs: 5000,
  exitMarginSeconds: 60,
};

/**
 * Drives one job with an in-process supervisor until it succeeds, fails or waits for the user, advancing
 * the simulator's clock between passes; throws with the state it is stuck in after two minutes.
 */
export async function superviseUntilSettled(deps: ServerDeps, sim: RunningSimulator, jobId: string, name: string): Promise<void> {
  const store = jobsRuntime(deps).store;
  const sup = new Supervisor(deps, store, TEST_SUPERVISOR_SETTINGS, name);
  if (!(await sup.acquireLock())) throw new Error('the supervisor lock is held elsewhere');
  const deadline = Date.now() + 120_000;
  try {
    while (!['succeeded', 'failed', 'awaiting_user'].includes((await store.getJob(jobId))!.state)) {
      await sup.runOnce();
      if (Date.now() > deadline) throw new Error(`stuck: ${(await store.getJob(jobId))!.state}`);
      sim.world.clock.advance(10);
      await new Promise((res) => setTimeout(res, 30));
    }
  } finally {
    await sup.releaseLock();
  }
}

/** The small trainer job the in-process job tests submit (6 steps, a checkpoint every 2), as job_submit takes it. */
export function smallTrainerJob(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    image: 'pytorch/pytorch:latest',
    gpu_name: 'RTX 4090',
    disk_gb: 20,
    interruptible: false,
    command: 'vast-sim-trainer --steps 6 --every 2 --step-ms 50 --out /workspace/out --ckpt /workspace/checkpoints',
    outputs: ['/workspace/out/model.bin'],
    output_dir: `out-${name}`,
    max_cost_usd: 20,
    max_hours: 1,
    checkpoint_sync_seconds: 10,
    grace_seconds: 5,
    ...extra,
  };
}
