import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, MAIN, runCli, spawnSim } from '../helpers/spawn.js';
import { EXPECTED_TOOLS } from '../helpers/tool-names.js';

const KEY = 'E2EKEY-7a1b-secret-feedface0042';

let sim: Awaited<ReturnType<typeof spawnSim>>;
let client: Client;
let stderr = '';
const protocolErrors: Error[] = [];
const seen: string[] = [];

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  seen.push(JSON.stringify(r));
  return r;
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
  });
  return res.json();
}

beforeAll(async () => {
  sim = await spawnSim(['--port', '0', '--api-key', KEY, '--seed', 'e2e', '--offers', '2000']);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN],
    env: cleanEnv({ VAST_URL: sim.url, VAST_API_KEY: KEY, VAST_MCP_LOG_LEVEL: 'debug' }),
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (c) => (stderr += String(c)));
  client = new Client({ name: 'e2e', version: '1.0.0' });
  client.onerror = (e) => protocolErrors.push(e);
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
  await sim?.stop();
});

describe('built server over stdio against `vast-mcp sim`', () => {
  it('lists exactly the expected tools', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(EXPECTED_TOOLS);
  });

  it('answers offers, status and billing with real simulator data', async () => {
    const offers = await call('offers', { gpu_name: 'H100 SXM', limit: 3 });
    expect(offers.isError).toBeFalsy();
    const list = (offers.structuredContent as any).offers;
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((o: any) => o.gpu_name === 'H100 SXM')).toBe(true);

    const rented = await api('PUT', `/api/v0/asks/${list[0].id}/`, {
      client_id: 'me',
      image: 'ubuntu:22.04',
      disk: 32,
      runtype: 'ssh_proxy',
      label: 'e2e',
    });
    expect(rented.success).toBe(true);
    await api('POST', '/_sim/advance', { seconds: 600 });

    const status = await call('status');
    const views = (status.structuredContent as any).instances;
    expect(views.map((v: any) => v.id)).toEqual([rented.new_contract]);
    expect(views[0].actual_status).toBe('running');
    expect(views[0].label).toBe('e2e');

    const billing = await call('billing');
    const b = billing.structuredContent as any;
    expect(b.per_instance[0].id).toBe(rented.new_contract);
    expect(b.burn_per_hour.total).toBeGreaterThan(0);
    expect(b.totals.charges).toBeGreaterThan(0);
  });

  it('keeps stdout for protocol messages and the key out of everything', async () => {
    expect(protocolErrors).toEqual([]);
    expect(stderr).toMatch(/vast-mcp serving on stdio/);
    expect([...seen, stderr].join('\n')).not.toContain(KEY);
  });

  it('called no route the simulator does not know', async () => {
    const r = await fetch(`${sim.url}/_sim/unexpected`);
    expect((await r.json()).unexpected).toEqual([]);
  });
});

describe('process behaviour', () => {
  it('writes nothing but JSON-RPC lines on stdout', async () => {
    const proc = spawn(process.execPath, [MAIN], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: cleanEnv({ VAST_URL: 'http://127.0.0.1:9', VAST_API_KEY: KEY, VAST_MCP_LOG_LEVEL: 'debug' }),
    });
    let out = '';
    proc.stdout.on('data', (c) => (out += String(c)));
    const send = (m: unknown) => proc.stdin.write(`${JSON.stringify(m)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'status', arguments: {} } });
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (out.includes('"id":3')) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    proc.stdin.end();
    await new Promise((r) => proc.once('exit', r));
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(JSON.parse(line).jsonrpc).toBe('2.0');
    const statusReply = JSON.parse(lines[2]!);
    expect(statusReply.result.isError).toBe(true);
    expect(statusReply.result.content[0].text).toMatch(/failed \(ECONNREFUSED\)|Check VAST_URL/);
    expect(out).not.toContain(KEY);
  });

  it('rejects a bad flag with one stderr line and exit 2', async () => {
    const r = await runCli(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/Unknown option '--frobnicate'.*--help/);
    const s = await runCli(['sim', '--offers', 'lots']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--offers must be a whole number/);
  });

  it('stops at start-up on a bad profiles file, naming the file, line and field', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'profiles.yaml');
    writeFileSync(file, 'profiles:\n  dev:\n    gpu_name: RTX 4090\n    max_dph: lots\n    max_hours: 2\n');
    const r = await runCli([], { VAST_MCP_CONFIG: file, VAST_API_KEY: KEY });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file}:4: profiles.dev.max_dph:`);
  });

  it('lists the references and prompts over stdio', async () => {
    expect((await client.listResources()).resources.map((x) => x.name).sort()).toEqual(['api', 'gotchas', 'jobs', 'profiles']);
    expect((await client.listPrompts()).prompts.map((x) => x.name)).toEqual(['rent-gpu', 'teardown', 'recover-preempted', 'cost-review', 'run-job']);
  });

  it('serves a sandbox that says it is simulated', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [MAIN, '--sandbox'], env: cleanEnv({}), stderr: 'pipe' });
    const c = new Client({ name: 'sandbox', version: '1.0.0' });
    await c.connect(transport);
    try {
      const r = (await c.callTool({ name: 'offers', arguments: { limit: 2 } })) as CallToolResult;
      expect((r.structuredContent as any).simulated).toBe(true);
      expect((r.structuredContent as any).count).toBe(2);
      expect(c.getInstructions()).toMatch(/SANDBOX/);
    } finally {
      await c.close();
    }
  });
});
