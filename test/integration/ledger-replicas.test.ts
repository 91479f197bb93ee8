import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { accountDigest, CopyLedger } from '../../server/state/ledger.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { closedPort } from '../helpers/ports.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { rentOne, startTestSim, TEST_KEY } from '../helpers/sim.js';

// Two replicas on different hosts: one simulator (the platform), one PostgreSQL (VAST_MCP_STORE_URL),
// and each replica its own state directory (ledger.jsonl, audit log, SSH key).
let pg: TestPostgres;
let sim: RunningSimulator;
let url: string;
const open: Connected[] = [];

const data = (r: unknown) => (r as { structuredContent: any }).structuredContent;
const alive = (id: number) => sim.world.instances.get(id)!.destroyedAt === null;

async function replica(config: Record<string, unknown> = {}): Promise<Connected> {
  const c = await connectInMemory(sim, { config: { storeUrl: url, copyRoot: mkdtempSync(join(tmpdir(), 'vast-mcp-replica-copies-')), ...config } });
  open.push(c);
  return c;
}

async function rent(): Promise<number> {
  const id = await rentOne(sim);
  sim.world.clock.advance(600);
  return id;
}

beforeAll(async () => {
  pg = await startTestPostgres();
  url = await pg.newDatabase();
  sim = await startTestSim();
}, 180_000);
afterAll(async () => {
  for (const c of open.splice(0)) await c.close();
  await sim?.close();
  await pg?.stop();
});

describe('verified-copy ledger shared by replicas through PostgreSQL', () => {
  it('a copy verified through replica A unlocks destroy on replica B, which was locked before it', async () => {
    const id = await rent();
    const a = await replica();
    const b = await replica();
    expect(a.deps.config.stateDir).not.toBe(b.deps.config.stateDir);

    const locked = await b.call('destroy', { instance_id: id });
    expect(locked.isError).toBe(true);
    expect(textOf(locked)).toMatch(/no verified copy/);

    const ssh = await a.call('ssh', { instance_id: id, command: 'head -c 40000 /dev/urandom > /workspace/ckpt.pt' });
    expect(ssh.isError, textOf(ssh)).toBeFalsy();
    const copied = await a.call('copy', {
      instance_id: id,
      direction: 'instance_to_local',
      remote_path: '/workspace/ckpt.pt',
      local_path: 'ckpt.pt',
    });
    expect(copied.isError, textOf(copied)).toBeFalsy();
    expect(data(copied).recorded_in_ledger).toBe(1);
    // Recorded in the shared store, not in A's local file.
    expect(existsSync(join(a.deps.config.stateDir, 'ledger.jsonl'))).toBe(false);

    const asked = await b.call('destroy', { instance_id: id });
    expect(asked.isError, textOf(asked)).toBeFalsy();
    expect(data(asked).status).toBe('needs_approval');
    expect(data(asked).verified_copies).toEqual([expect.objectContaining({ remote_path: '/workspace/ckpt.pt', size: 40000 })]);
    expect(alive(id)).toBe(true);
    const done = await b.call('destroy', { instance_id: id, approval_token: data(asked).approval_token });
    expect(done.isError, textOf(done)).toBeFalsy();
    expect(data(done)).toMatchObject({ status: 'destroyed', verified_final_state: 'gone', discarded: false });
    expect(alive(id)).toBe(false);
  });

  it("imports a replica's existing ledger.jsonl into the store before its first read, once", async () => {
    const id = await rent();
    const c = await replica();
    const b = await replica();
    // Written after start-up: the import is lazy, at the first use of the ledger.
    const jsonl = new CopyLedger(c.deps.config.stateDir, undefined, { platform: c.deps.config.apiUrl, account: accountDigest(TEST_KEY) });
    const sha = 'e'.repeat(64);
    await jsonl.recordVerifiedCopy({
      instance_id: id,
      remote_path: '/workspace/old',
      destination: '/copies/old',
      size: 5,
      sha256_remote: sha,
      sha256_local: sha,
      at: sim.world.now(),
    });
    const before = readFileSync(jsonl.path, 'utf8');
    const viaC = await c.call('destroy', { instance_id: id });
    expect(data(viaC).status, textOf(viaC)).toBe('needs_approval');
    expect(data(viaC).verified_copies.map((v: { remote_path: string }) => v.remote_path)).toEqual(['/workspace/old']);
    const viaB = await b.call('destroy', { instance_id: id });
    expect(data(viaB).verified_copies.map((v: { remote_path: string }) => v.remote_path)).toEqual(['/workspace/old']);
    await c.call('destroy', { instance_id: id });
    expect(c.logs.filter((l) => l.includes('imported into the shared store'))).toHaveLength(1);
    expect(readFileSync(jsonl.path, 'utf8')).toBe(before);
    expect((await c.deps.ledger.verifiedCopiesFor(id)).length).toBe(1);
  });

  it('keeps destroy locked, with a clear message, when the shared ledger cannot be read', async () => {
    const id = await rent();
    const down = await replica({ storeUrl: `postgres://vast:hunter2-store@127.0.0.1:${await closedPort()}/vast` });
    for (const args of [{ instance_id: id }, { instance_id: id, discard: true }]) {
      const r = await down.call('destroy', args);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/verified-copy ledger cannot be read/);
      expect(textOf(r)).toMatch(/Nothing was destroyed/);
      expect(textOf(r)).not.toMatch(/Internal error|hunter2/);
    }
    expect(alive(id)).toBe(true);
    expect(down.deps.audit.entries().at(-1)).toMatchObject({ tool: 'destroy', result: 'refused', instance_id: id });
  });

  it('says a verified copy was made but not recorded when the shared ledger cannot be written', async () => {
    const id = await rent();
    const down = await replica({ storeUrl: `postgres://vast:hunter2-store@127.0.0.1:${await closedPort()}/vast` });
    const ssh = await down.call('ssh', { instance_id: id, command: 'echo result > /workspace/r.txt' });
    expect(ssh.isError, textOf(ssh)).toBeFalsy();
    const r = await down.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/r.txt', local_path: 'r.txt' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Copied and verified "\/workspace\/r\.txt" → .*r\.txt" from instance \d+/);
    expect(textOf(r)).toMatch(/NOT recorded/);
    expect(textOf(r)).toMatch(/destroy stays locked/);
    expect(textOf(r)).not.toMatch(/Internal error|hunter2/);
    expect(readFileSync(join(down.deps.config.copyRoot, 'r.txt'), 'utf8')).toBe('result\n');
  });
});
