import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let who: AuthInfo | undefined;
let jobId: string;
const savedMode = process.env.VAST_MCP_JOBD;
const as = (user: string, team?: string): AuthInfo => ({
  token: `tok-${user}`,
  clientId: 'c',
  scopes: [],
  extra: { user, ...(team ? { team } : {}) },
});
const data = (r: any) => r.structuredContent as any;
const SPEC = {
  name: 'owned',
  image: 'pytorch/pytorch:latest',
  gpu_name: 'RTX 4090',
  disk_gb: 20,
  interruptible: false,
  command: 'true',
  outputs: ['/workspace/out/model.bin'],
  output_dir: 'out-owned',
  max_cost_usd: 5,
  max_hours: 1,
};

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'identity-jobs-')) }, auth: () => who });
  who = as('alice', 'ml');
  const first = data(await mcp.call('job_submit', SPEC));
  const r = await mcp.call('job_submit', { ...SPEC, grant_teardown_approval: false, confirmation_token: first.confirmation_token });
  expect(r.isError, textOf(r)).toBeFalsy();
  jobId = data(r).job_id;
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

describe('job ownership (15.3)', () => {
  it('records the submitter as the actor of the submit record', () => {
    const submit = mcp.deps.audit.entries().find((e) => e.tool === 'job_submit' && e.action === 'submit')!;
    expect(submit.actor).toMatchObject({ user: 'alice', team: 'ml', authenticated: true });
  });

  it("another team's user does not see the job and cannot cancel it", async () => {
    who = as('eve', 'ops');
    expect(data(await mcp.call('job_status')).jobs).toEqual([]);
    expect(textOf(await mcp.call('job_status', { job_id: jobId }))).toMatch(/No job/);
    const c = await mcp.call('job_cancel', { job_id: jobId });
    expect(c.isError).toBe(true);
    expect(textOf(c)).toMatch(/No job/);
    expect(textOf(await mcp.call('job_logs', { job_id: jobId }))).toMatch(/No job/);
  });

  it('a user of the same team may read the job but not cancel it', async () => {
    who = as('bob', 'ml');
    expect(data(await mcp.call('job_status')).jobs.map((j: any) => j.job_id)).toEqual([jobId]);
    const c = await mcp.call('job_cancel', { job_id: jobId });
    expect(c.isError).toBe(true);
    expect(textOf(c)).toMatch(/belongs to another user of your team; you may read it, not change it/);
    expect(data(await mcp.call('job_status', { job_id: jobId })).jobs[0].cancel_requested).toBe(false);
  });

  it('the owner cancels it; the local (stdio) user, who runs the server, sees every job', async () => {
    who = as('alice', 'ml');
    expect(data(await mcp.call('job_cancel', { job_id: jobId })).cancel_requested).toBe(true);
    who = undefined;
    expect(data(await mcp.call('job_status')).jobs.map((j: any) => j.job_id)).toEqual([jobId]);
  });
});
