import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim, TEST_KEY } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim);
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('the API key never reaches an instance', () => {
  it.each([
    ['env', { env: { SOME_VAR: Buffer.from(TEST_KEY).toString('base64') } }],
    ['env', { env: { URL: `https://x/?k=${encodeURIComponent(TEST_KEY)}` } }],
    ['image', { image: `registry.example/${Buffer.from(TEST_KEY).toString('hex')}` }],
    ['onstart', { onstart: `echo ${TEST_KEY.slice(3, 30)}` }],
  ])('create refuses the key in %s, before anything is quoted or rented', async (field, extra) => {
    const r = await mcp.call('create', { gpu_name: 'RTX 4090', ...extra });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(new RegExp(`^(\\[SIMULATED[^\\n]*\\n)?${field} contains your Vast API key`));
    expect(sim.world.instances.size).toBe(0);
  });

  it('ssh refuses a command carrying the key, and runs nothing', async () => {
    const id = await rentOne(sim);
    sim.world.clock.advance(600);
    const r = await mcp.call('ssh', {
      instance_id: id,
      command: `curl -H "Authorization: Bearer ${TEST_KEY}" https://console.vast.ai/api/v0/instances/`,
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/command contains your Vast API key/);
    expect(sim.world.instances.get(id)!.logLines.join('\n')).not.toMatch(/exec:/);
  });
});
