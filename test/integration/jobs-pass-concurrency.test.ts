import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { STEP_CONCURRENCY } from '../../server/jobs/step-pool.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { RunningSimulator } from '../../sim/server.js';
import { TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

// One supervisor drives many jobs: a pass steps several at once (one job's SSH wait no longer holds up the rest),
// at most STEP_CONCURRENCY, and rentals still take turns (concurrent searches would all pick the same best offer).
const data = (r: any) => r.structuredContent as any;
const JOBS = STEP_CONCURRENCY + 4;
let sim: RunningSimulator;
let mcp: Connected;
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-pass-concurrency-')) } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

/** Wraps one client method to count calls in flight; each call is held a moment so overlapping calls can be seen. */
function inFlight(obj: any, method: string): { max: number; calls: number; restore: () => void } {
  const original = obj[method];
  const seen = { max: 0, calls: 0, now: 0, restore: () => (obj[method] = original) };
  obj[method] = async (...args: unknown[]) => {
    seen.calls++;
    seen.max = Math.max(seen.max, ++seen.now);
    try {
      await new Promise((r) => setTimeout(r, 20));
      return await original.apply(obj, args);
    } finally {
      seen.now--;
    }
  };
  return seen;
}

describe('a supervisor pass over many jobs', () => {
  it(`steps up to ${STEP_CONCURRENCY} jobs at once, and rents one at a time on distinct offers`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const spec = {
        name: `conc-${i}`,
        image: 'ubuntu:22.04',
        gpu_name: 'RTX 4090',
        disk_gb: 10,
        interruptible: false,
        command: 'sleep 100000',
        outputs: ['/workspace/out'],
        output_dir: `conc-${i}`,
        on_end: 'keep',
        max_cost_usd: 20,
        max_hours: 1,
      };
      const first = await mcp.call('job_submit', spec);
      expect(data(first).status, textOf(first)).toBe('needs_confirmation');
      ids.push(data(await mcp.call('job_submit', { ...spec, confirmation_token: data(first).confirmation_token })).job_id);
    }
    const store = jobsRuntime(mcp.deps).store;
    const sup = new Supervisor(mcp.deps, store, TEST_SUPERVISOR_SETTINGS, 'pass-concurrency');
    expect(await sup.acquireLock()).toBe(true);
    const vast = mcp.deps.vast as any;
    try {
      await sup.runOnce(); // SUBMITTED → PROVISIONING: no platform call
      const creates = inFlight(vast, 'createInstance');
      await sup.runOnce(); // each job rents
      creates.restore();
      expect(creates.calls).toBe(JOBS);
      expect(creates.max).toBe(1);
      const attempts = (await Promise.all(ids.map((id) => store.attempts(id)))).map((a) => a[a.length - 1]!);
      expect(attempts.map((a) => a.state)).toEqual(ids.map(() => 'rented'));
      expect(new Set(attempts.map((a) => a.offer_id)).size).toBe(JOBS);

      const reads = inFlight(vast, 'getInstance');
      await sup.runOnce(); // each job reads its rental
      reads.restore();
      expect(reads.calls).toBeGreaterThanOrEqual(JOBS);
      expect(reads.max).toBe(STEP_CONCURRENCY);
    } finally {
      await sup.releaseLock();
    }
  }, 120_000);
});
