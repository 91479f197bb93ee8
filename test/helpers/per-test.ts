import { afterEach, beforeEach } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, type Connected } from './mcp.js';
import { startTestSim } from './sim.js';

/** A fresh simulator for every test, and in-memory connections to it that are closed afterwards. */
export function simPerTest(): { sim(): RunningSimulator; connect(opts?: Parameters<typeof connectInMemory>[1]): Promise<Connected> } {
  let sim: RunningSimulator | null = null;
  const open: Connected[] = [];
  beforeEach(async () => {
    sim = await startTestSim();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
    await sim?.close();
  });
  return {
    sim: () => sim!,
    async connect(opts = {}) {
      const c = await connectInMemory(sim!, opts);
      open.push(c);
      return c;
    },
  };
}
