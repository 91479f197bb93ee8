import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import type { RunningSimulator } from '../../sim/server.js';
import { TEST_SUPERVISOR_SETTINGS } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

// One supervisor drives many jobs within the platform's rate limits: the per-instance endpoint is limited per
// endpoint (one call every 2 s), so a pass reads the account's instances in one listing, not one call per job.
const data = (r: any) => r.structuredContent as any;
let sim: RunningSimulator;
let mcp: Connected;
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-pass-reads-')) } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

describe('a supervisor pass over many running jobs', () => {
  it('reads their instances in one listing, not one call per job', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const spec = {
        name: `reads-${i}`,
        image: 'ubuntu:22.04',
        gpu_name: 'RTX 4090',
        disk_gb: 10,
        interruptible: false,
        command: 'sleep 100000',
        outputs: ['/workspace/out'],
        output_dir: `reads-${i}`,
        on_end: 'keep',
        max_cost_usd: 20,
        max_hours: 1,
      };
      const first = await mcp.call('job_submit', spec);
      expect(data(first).status, textOf(first)).toBe('needs_confirmation');
      ids.push(data(await mcp.call('job_submit', { ...spec, confirmation_token: data(first).confirmation_token })).job_id);
    }
    const store = jobsRuntime(mcp.deps).store;
    const sup = new Supervisor(mcp.deps, store, TEST_SUPERVISOR_SETTINGS, 'pass-reads');
    expect(await sup.acquireLock()).toBe(true);
    try {
      const deadline = Date.now() + 90_000;
      const running = async () => (await Promise.all(ids.map((id) => store.getJob(id)))).filter((j) => j!.state === 'RUNNING').length;
      while ((await running()) < ids.length && Date.now() < deadline) {
        await sup.runOnce();
        sim.world.clock.advance(10);
      }
      expect(await running()).toBe(ids.length);
      const mark = sim.requests.length;
      await sup.runOnce();
      const pass = sim.requests.slice(mark).filter((q) => q.method === 'GET');
      expect(pass.filter((q) => /^\/api\/v0\/instances\/\d+\/?$/.test(q.path))).toEqual([]);
      // Nor are the SSH keys checked again where this supervisor's key already worked.
      expect(pass.filter((q) => /\/ssh\/?$/.test(q.path)).map((q) => q.path)).toEqual([]);
      expect(pass.filter((q) => /^\/api\/v[01]\/instances\/?$/.test(q.path)).length).toBeGreaterThanOrEqual(1);
      expect(pass.filter((q) => /^\/api\/v[01]\/instances\/?$/.test(q.path)).length).toBeLessThanOrEqual(2);
      // Still one reading per job: every job is still running after the pass.
      expect(await running()).toBe(ids.length);
    } finally {
      await sup.releaseLock();
    }
  }, 120_000);
});
