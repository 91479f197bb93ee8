import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningSimulator } from '../../sim/server.js';
import type { SimInstance } from '../../sim/types.js';
import type { InstanceSample, Sample } from './jobs-invariants.js';

/** Ground truth read straight from the in-process simulator: instances, charges, files on the instances' disks. */

/** `<account>-job-<id>-a<n>-<random>[-rN]` (server/jobs/launch.ts attemptLabel, server/vast/rent.ts retries). */
const JOB_LABEL = /-job-([A-Za-z0-9]+)-a(\d+)-[0-9a-f]+(?:-r\d+)?$/;

export function jobOfLabel(label: string | null): string | null {
  return label ? (JOB_LABEL.exec(label)?.[1] ?? null) : null;
}

/** GPU time is charged while running or frozen (sim/world.ts accrue). */
export function gpuBilling(i: SimInstance): boolean {
  return i.destroyedAt === null && (i.actual === 'running' || i.actual === 'frozen');
}

export function sampleInstances(sim: RunningSimulator): Sample {
  sim.world.tick();
  const instances: InstanceSample[] = [];
  for (const i of sim.world.instances.values()) {
    const job = jobOfLabel(i.label);
    if (job) instances.push({ id: i.id, job_id: job, gpu_billing: gpuBilling(i), destroyed: i.destroyedAt !== null });
  }
  return { at: sim.world.now(), instances };
}

/** Everything the simulator charged for a job's instances so far (GPU, disk, bandwidth), USD. */
export function jobSpend(sim: RunningSimulator, jobId: string): number {
  let total = 0;
  for (const i of sim.world.instances.values()) {
    if (jobOfLabel(i.label) !== jobId) continue;
    if (i.destroyedAt === null) sim.world.accrue(i, sim.world.now());
    total += i.costs.gpu + i.costs.disk + i.costs.bwu + i.costs.bwd;
  }
  return total;
}

/** The newest complete checkpoint (its manifest exists) on an instance's disk; 0 when none. */
export function stepOnDisk(sim: RunningSimulator, instanceId: number, checkpointDir = '/workspace/checkpoints'): number {
  const root = sim.ssh?.sandbox.rootOf(instanceId);
  if (!root) return 0;
  const dir = join(root, ...checkpointDir.split('/').filter(Boolean));
  if (!existsSync(dir)) return 0;
  let best = 0;
  for (const name of readdirSync(dir)) {
    const m = /^step-(\d{6})$/.exec(name);
    if (m && existsSync(join(dir, name, 'manifest'))) best = Math.max(best, Number(m[1]));
  }
  return best;
}

function filesUnder(dir: string, out: string[], budget: { left: number }): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (budget.left-- <= 0) return;
    const p = join(dir, n);
    try {
      const st = statSync(p);
      if (st.isDirectory()) filesUnder(p, out, budget);
      else if (st.isFile() && st.size <= 4 * 1024 * 1024) out.push(p);
    } catch {
      /* removed meanwhile (a checkpoint renamed into place) */
    }
  }
}

/** Where the key appears on live instances: their env, onstart and every file on their disks. */
export function secretsOnInstances(sim: RunningSimulator, key: string): string[] {
  const found: string[] = [];
  for (const i of sim.world.instances.values()) {
    if (i.destroyedAt !== null) continue;
    if (JSON.stringify(i.env).includes(key)) found.push(`instance #${i.id} env`);
    if ((i.onstart ?? '').includes(key)) found.push(`instance #${i.id} onstart`);
    const root = sim.ssh?.sandbox.rootOf(i.id);
    if (!root) continue;
    const files: string[] = [];
    filesUnder(root, files, { left: 5000 });
    for (const f of files) {
      try {
        if (readFileSync(f).includes(key)) found.push(`instance #${i.id} file ${f.slice(root.length)}`);
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return found;
}
