import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { cleanEnv, MAIN, spawnSim } from '../helpers/spawn.js';

const KEY = 'E2EKEY-fullflow-5ca1ab1e-1234';
let sim: Awaited<ReturnType<typeof spawnSim>>;
let s3: TestS3;
let client: Client;
let copyRoot: string;
let stderr = '';
const seen: string[] = [];

async function call(name: string, args: Record<string, unknown>): Promise<any> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  seen.push(JSON.stringify(r));
  return r;
}
const ok = async (name: string, args: Record<string, unknown>) => {
  const r = await call(name, args);
  expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
  return r.structuredContent;
};
const state = async () => (await (await fetch(`${sim.url}/_sim/state`)).json()) as any;

beforeAll(async () => {
  s3 = await startS3(['artifacts']);
  sim = await spawnSim(['--port', '0', '--api-key', KEY, '--seed', 'e2e-full', '--offers', '1500', '--time-scale', '300']);
  copyRoot = mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-copies-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN],
    env: cleanEnv({
      VAST_URL: sim.url,
      VAST_API_KEY: KEY,
      VAST_MCP_STATE_DIR: mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-state-')),
      VAST_MCP_COPY_ROOT: copyRoot,
      VAST_MCP_S3_ENDPOINT: s3.config.endpoint!,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      VAST_MCP_S3_FORCE_PATH_STYLE: 'true',
      VAST_MCP_S3_CHECKSUMS: 'when_required',
    }),
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (c) => (stderr += String(c)));
  client = new Client({ name: 'e2e-full', version: '1' });
  await client.connect(transport);
});
afterAll(async () => {
  await client?.close();
  await sim?.stop();
  await s3?.close();
});

describe('the whole job over stdio', () => {
  it('create → wait → ssh → checkpoint → refused destroy → verified copies → destroy → files gone', async () => {
    const args = { gpu_name: 'RTX 4090', min_direct_ports: 1, disk_gb: 20, hours: 1 };
    const p = await ok('create', args);
    const created = await ok('create', { ...args, wait: true, wait_timeout_seconds: 120, confirmation_token: p.confirmation_token });
    const id = created.instances[0].instance_id;
    expect(created.instances[0].state).toBe('running');

    const gpu = await ok('ssh', { instance_id: id, command: 'nvidia-smi -L' });
    expect(gpu.stdout.text).toMatch(/^GPU 0: RTX 4090/);
    expect(gpu.endpoint).toBe('direct');
    await ok('ssh', {
      instance_id: id,
      command:
        'mkdir -p /workspace/ckpt && head -c 5000000 /dev/urandom > /workspace/ckpt/step-100.pt && echo loss=0.1 > /workspace/ckpt/metrics.txt',
    });
    const remoteSha = (await ok('ssh', { instance_id: id, command: 'sha256sum /workspace/ckpt/step-100.pt' })).stdout.text.slice(0, 64);

    const refused = await call('destroy', { instance_id: id });
    expect(refused.isError).toBe(true);

    const local = await ok('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/ckpt', local_path: 'run-1' });
    // A directory is recorded once, only after every file in it verified.
    expect(local.recorded_in_ledger).toBe(1);
    expect(
      createHash('sha256')
        .update(readFileSync(join(copyRoot, 'run-1/step-100.pt')))
        .digest('hex'),
    ).toBe(remoteSha);
    const cloud = await ok('copy', {
      instance_id: id,
      direction: 'instance_to_s3',
      remote_path: '/workspace/ckpt/step-100.pt',
      s3_uri: 's3://artifacts/run-1',
    });
    expect(cloud.files[0]).toMatchObject({ destination: 's3://artifacts/run-1/step-100.pt', sha256: remoteSha });

    const approval = await ok('destroy', { instance_id: id });
    expect(approval.status).toBe('needs_approval');
    // The directory (one record) and the S3 object.
    expect(approval.verified_copies.length).toBe(2);
    const done = await ok('destroy', { instance_id: id, approval_token: approval.approval_token });
    expect(done).toMatchObject({ status: 'destroyed', verified_final_state: 'gone' });
    const inst = (await state()).instances.find((i: any) => i.id === id);
    expect(inst).toMatchObject({ destroyed: true, files_present: false });
    expect(inst.bytes_up).toBeGreaterThan(10_000_000);

    const billing = await ok('billing', {});
    expect(billing.totals.charges).toBeGreaterThan(0);
  });

  it('leaks the API key nowhere and calls no unknown route', async () => {
    expect([...seen, stderr].join('\n')).not.toContain(KEY);
    expect((await (await fetch(`${sim.url}/_sim/unexpected`)).json()).unexpected).toEqual([]);
  });
});
