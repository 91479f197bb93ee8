import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import type { ServerDeps } from '../../server/deps.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { PgReservations } from '../../server/store/pg-reservations.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestSim } from '../helpers/sim.js';

// Replicas on different hosts (issue 15.5): one simulator, one PostgreSQL, each replica its own state directory.
// Budget reservations live in the shared store, so two replicas never approve against the same remaining budget.
let pg: TestPostgres;
let sim: RunningSimulator;
const open: Connected[] = [];
const alice: AuthInfo = { token: 'tok-alice', clientId: 'c', scopes: [], extra: { user: 'alice' } };
const data = (r: unknown) => (r as { structuredContent: any }).structuredContent;
const rents = () => sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/v0/asks/')).length;
const ARGS = { gpu_name: 'RTX 4090', hours: 1, max_dph: 0.3, disk_gb: 20 };
const budget = (usd: number) => parseProfiles(`profiles: {}\nbudgets:\n  each_user:\n    total_usd: ${usd.toFixed(4)}\n`, 'test.yaml');

async function replica(url: string, deps?: Partial<ServerDeps>): Promise<Connected> {
  const c = await connectInMemory(sim, {
    config: { storeUrl: url, copyRoot: mkdtempSync(join(tmpdir(), 'vast-mcp-budget-replica-')) },
    auth: () => alice,
    ...(deps ? { deps } : {}),
  });
  open.push(c);
  return c;
}

const savedMode = process.env.VAST_MCP_JOBD;
beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  pg = await startTestPostgres();
  sim = await startTestSim();
}, 180_000);
afterAll(async () => {
  for (const c of open.splice(0)) await c.close();
  await sim?.close();
  await pg?.stop();
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
});

describe('budget reservations shared by replicas through PostgreSQL', () => {
  it('two confirmed creates through replicas A and B at once, together over her budget: exactly one is rented', async () => {
    const url = await pg.newDatabase();
    const a = await replica(url);
    const b = await replica(url);
    expect(a.deps.config.stateDir).not.toBe(b.deps.config.stateDir);
    const pa = data(await a.call('create', ARGS));
    const pb = data(await b.call('create', ARGS));
    expect([pa.status, pb.status]).toEqual(['needs_confirmation', 'needs_confirmation']);
    // Room for one of the two projections, not both.
    const limit = budget(Math.max(pa.projected_total, pb.projected_total) * 1.5);
    a.deps.profiles = limit;
    b.deps.profiles = limit;
    const before = rents();
    const [ra, rb] = await Promise.all([
      a.call('create', { ...ARGS, confirmation_token: pa.confirmation_token }),
      b.call('create', { ...ARGS, confirmation_token: pb.confirmation_token }),
    ]);
    const ok = [ra, rb].filter((r) => !r.isError);
    const refused = [ra, rb].filter((r) => r.isError);
    expect(ok, [ra, rb].map(textOf).join(' | ')).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(textOf(refused[0]!)).toMatch(/left of the user "alice" budget/);
    expect(textOf(refused[0]!)).toMatch(/Nothing was rented/);
    expect(rents()).toBe(before + 1);
    expect(data(ok[0]).instances).toHaveLength(1);
  });

  it('reservations out of reach refuse the rental, saying the budget cannot be checked; nothing is rented', async () => {
    const url = await pg.newDatabase();
    const lost = new PgJobStore('postgres://vast:hunter2-store@127.0.0.1:1/vast', { max: 1 });
    const c = await replica(url, { reservations: new PgReservations(lost), profiles: budget(10) });
    const before = rents();
    const r = await c.call('create', ARGS);
    await lost.close();
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/cannot be reached right now .*so the budget cannot be checked\. Nothing was rented/);
    expect(textOf(r)).not.toMatch(/Internal error|hunter2/);
    expect(rents()).toBe(before);
  });
});
