import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, MAIN, spawnSim } from '../helpers/spawn.js';

const KEY = 'E2EKEY-create-destroy-0badc0de99';
let sim: Awaited<ReturnType<typeof spawnSim>>;
let stateDir: string;
let stderr = '';
const emitted: string[] = [];

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

async function connect(elicit?: (message: string) => Record<string, unknown> | null): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN],
    env: cleanEnv({ VAST_URL: sim.url, VAST_API_KEY: KEY, VAST_MCP_STATE_DIR: stateDir }),
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (c) => (stderr += String(c)));
  const client = new Client({ name: 'e2e', version: '1' }, { capabilities: elicit ? { elicitation: {} } : {} });
  if (elicit) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      const content = elicit(req.params.message);
      return content ? { action: 'accept', content } : { action: 'decline' };
    });
  }
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  emitted.push(JSON.stringify(r));
  return r;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-state-'));
  sim = await spawnSim(['--port', '0', '--api-key', KEY, '--seed', 'e2e-create', '--offers', '1500', '--time-scale', '300']);
});
afterAll(async () => {
  await sim?.stop();
});

describe('create → wait → destroy over stdio', () => {
  it('confirms with a token, survives a dropped create answer, refuses an unverified destroy, destroys on discard approval', async () => {
    const client = await connect();
    try {
      const args = { gpu_name: 'RTX 4090', disk_gb: 32, hours: 2 };
      const proposal = (await call(client, 'create', args)).structuredContent as any;
      expect(proposal.status).toBe('needs_confirmation');
      expect((await admin('GET', '/_sim/state')).instances).toHaveLength(0);

      await admin('POST', '/_sim/faults', { method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'drop_response', count: 1 });
      const created = (
        await call(client, 'create', { ...args, wait: true, wait_timeout_seconds: 120, confirmation_token: proposal.confirmation_token })
      ).structuredContent as any;
      expect(created.status).toBe('created');
      expect(created.instances[0].reconciled).toBe(true);
      expect(created.instances[0].state).toBe('running');
      const state = await admin('GET', '/_sim/state');
      expect(state.instances).toHaveLength(1);
      const id = created.instances[0].instance_id;
      expect(state.instances[0].id).toBe(id);

      const refused = await call(client, 'destroy', { instance_id: id });
      expect(refused.isError).toBe(true);
      const approval = (await call(client, 'destroy', { instance_id: id, discard: true })).structuredContent as any;
      expect(approval.status).toBe('needs_approval');
      expect((await admin('GET', '/_sim/state')).instances[0].destroyed).toBe(false);
      const done = (await call(client, 'destroy', { instance_id: id, discard: true, approval_token: approval.approval_token }))
        .structuredContent as any;
      expect(done).toMatchObject({ status: 'destroyed', verified_final_state: 'gone' });
      expect((await admin('GET', '/_sim/state')).instances[0].destroyed).toBe(true);

      const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(audit.map((e: any) => `${e.tool}:${e.action}:${e.result}`)).toEqual([
        // The approval text looks at /workspace over SSH: our key gets registered and attached first.
        'create:propose:pending',
        'create:rent_attempt:pending',
        'create:rent:ok',
        'destroy:destroy:refused',
        'ssh:register_key:ok',
        'ssh:attach_key:ok',
        'destroy:destroy:pending',
        'destroy:destroy:ok',
      ]);
    } finally {
      await client.close();
    }
  });

  it('asks a client with elicitation directly and honours a decline', async () => {
    const messages: string[] = [];
    const client = await connect((m) => {
      messages.push(m);
      return null;
    });
    try {
      const r = (await call(client, 'create', { gpu_name: 'RTX 3090', disk_gb: 16 })).structuredContent as any;
      expect(r.status).toBe('declined');
      expect(messages[0]).toMatch(/Proposal to rent 1 instance/);
      const live = (await admin('GET', '/_sim/state')).instances.filter((i: any) => !i.destroyed);
      expect(live).toHaveLength(0);
    } finally {
      await client.close();
    }
  });

  it('leaked the key nowhere and called no unknown route', async () => {
    const audit = readFileSync(join(stateDir, 'audit.jsonl'), 'utf8');
    expect([...emitted, stderr, audit].join('\n')).not.toContain(KEY);
    expect((await admin('GET', '/_sim/unexpected')).unexpected).toEqual([]);
  });
});
