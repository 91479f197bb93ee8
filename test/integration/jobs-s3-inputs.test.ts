import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client, type S3Config } from '../../server/copy/s3-store.js';
import { stageS3Input } from '../../server/jobs/input-staging.js';
import type { JobInput } from '../../server/jobs/job-spec.js';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { pinS3Input, parseInputUri } from '../../server/jobs/s3-inputs.js';
import type { RunningSimulator } from '../../sim/server.js';
import { superviseUntilSettled } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { startTestSim } from '../helpers/sim.js';

// Issue 13: job inputs from s3:// (one object, or every object under a prefix), read with this server's
// credentials, pinned at submit, placed verified; a changed input fails the job with nothing placed.
const data = (r: any) => r.structuredContent as any;
let sim: RunningSimulator;
let s3: TestS3;
let client: S3Client;
let mcp: Connected;
let copyRoot: string;
const savedMode = process.env.VAST_MCP_JOBD;
const model = randomBytes(300_000);
const setA = Buffer.from('alpha\n');
const setB = randomBytes(70_000);

const put = (key: string, body: Buffer | string) => client.send(new PutObjectCommand({ Bucket: 'inputs', Key: key, Body: body }));

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  s3 = await startS3(['inputs']);
  client = await makeS3Client(s3.config);
  await put('models/m.bin', model);
  await put('sets/train/a.txt', setA);
  await put('sets/train/sub/b.bin', setB);
  copyRoot = mkdtempSync(join(tmpdir(), 'jobs-s3-in-'));
  mcp = await connectInMemory(sim, { config: { copyRoot, s3: s3.config } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  client.destroy();
  await mcp.close();
  await sim.close();
  await s3.close();
});

const args = (inputs: unknown[]) => ({
  name: 'from-s3',
  image: 'pytorch/pytorch:latest',
  gpu_name: 'RTX 4090',
  disk_gb: 20,
  interruptible: false,
  command: 'vast-sim-trainer --steps 2 --every 2 --step-ms 20 --out /workspace/out --ckpt /workspace/checkpoints',
  outputs: ['/workspace/out/model.bin'],
  output_dir: 'out',
  on_end: 'keep',
  max_cost_usd: 20,
  max_hours: 1,
  checkpoint_sync_seconds: 10,
  grace_seconds: 5,
  inputs,
});

async function submit(conn: Connected, spec: Record<string, unknown>): Promise<{ first: any; jobId: string }> {
  const first = await conn.call('job_submit', spec);
  expect(data(first).status, textOf(first)).toBe('needs_confirmation');
  const r = data(await conn.call('job_submit', { ...spec, confirmation_token: data(first).confirmation_token }));
  expect(r.status).toBe('submitted');
  return { first, jobId: r.job_id };
}

const instanceRoot = async (jobId: string) => {
  const inst = (await jobsRuntime(mcp.deps).store.attempts(jobId))[0]!.instance_id!;
  return { inst, root: sim.ssh!.sandbox.rootOf(inst) };
};

describe('job inputs from S3', () => {
  it('places one object as a file and a prefix as a directory, byte for byte, pinned at submit', async () => {
    const spec = args([
      { s3_uri: 's3://inputs/models/m.bin', remote_path: '/workspace/in/m.bin' },
      { s3_uri: 's3://inputs/sets/train/', remote_path: '/workspace/in/train' },
    ]);
    const { first, jobId } = await submit(mcp, spec);
    expect(textOf(first)).toContain(`Input: s3://inputs/models/m.bin (${model.length} bytes, pinned) → /workspace/in/m.bin`);
    expect(textOf(first)).toContain(`Input: s3://inputs/sets/train/ (2 objects, ${setA.length + setB.length} bytes, pinned) → /workspace/in/train`);
    const store = jobsRuntime(mcp.deps).store;
    const stored = (await store.getJob(jobId))!.spec as { inputs: JobInput[] };
    expect(stored.inputs[0]!.pin).toEqual({ kind: 'object', etag: expect.stringMatching(/^"[0-9a-f]{32}"$/), size: model.length });
    expect(stored.inputs[1]!.pin).toEqual({
      kind: 'prefix',
      digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      objects: 2,
      bytes: setA.length + setB.length,
    });

    await superviseUntilSettled(mcp.deps, sim, jobId, 's3-in');
    const job = (await store.getJob(jobId))!;
    expect(job.state, job.waiting_for ?? '').toBe('succeeded');
    const { inst, root } = await instanceRoot(jobId);
    expect(readFileSync(join(root, 'workspace/in/m.bin')).equals(model)).toBe(true);
    expect(readFileSync(join(root, 'workspace/in/train/a.txt')).equals(setA)).toBe(true);
    expect(readFileSync(join(root, 'workspace/in/train/sub/b.bin')).equals(setB)).toBe(true);
    // Staged on this server's disk for the attempts; gone once the job has ended.
    expect(existsSync(join(copyRoot, '.job-inputs', jobId))).toBe(false);
    // The server read the bucket; the instance got bytes only, never the credentials.
    const rented = sim.world.instances.get(inst)!;
    expect(JSON.stringify({ env: rented.env, onstart: rented.onstart })).not.toMatch(/S3RVER|AWS_/);
  }, 150_000);

  it('confines an authenticated user to their own S3 prefix (inputs and outputs); the local operator is not', async () => {
    await put('users/alice/own.bin', setA);
    let who: AuthInfo | undefined = { token: 't', clientId: 'c', scopes: [], extra: { user: 'alice' } };
    const team = await connectInMemory(sim, {
      config: { copyRoot, s3: { ...s3.config, userPrefixes: ['s3://inputs/users/{user}'] } },
      auth: () => who,
    });
    try {
      const live = sim.world.liveInstances().length;
      // Another user's files, the bucket's root, and a look-alike prefix are out of reach.
      for (const [uri, field] of [
        ['s3://inputs/models/m.bin', 'input'],
        ['s3://inputs/', 'input'],
        ['s3://inputs/users/alicex/own.bin', 'input'],
        ['s3://inputs/users/bob/out', 'output'],
      ] as const) {
        const spec =
          field === 'input'
            ? args([{ s3_uri: uri, remote_path: '/workspace/in/x' }])
            : { ...args([{ s3_uri: 's3://inputs/users/alice/own.bin', remote_path: '/workspace/in/x' }]), output_s3_uri: uri };
        const r = await team.call('job_submit', spec);
        expect(r.isError, `${uri}: ${textOf(r)}`).toBe(true);
        expect(textOf(r)).toMatch(/outside the S3 locations you may use .*s3:\/\/inputs\/users\/alice\)/);
      }
      // Their own prefix passes (to the dialog); with no prefixes configured, nothing does.
      const own = await team.call('job_submit', args([{ s3_uri: 's3://inputs/users/alice/own.bin', remote_path: '/workspace/in/x' }]));
      expect(data(own).status, textOf(own)).toBe('needs_confirmation');
      expect(sim.world.liveInstances().length).toBe(live);
      who = undefined;
      const operator = await team.call('job_submit', args([{ s3_uri: 's3://inputs/models/m.bin', remote_path: '/workspace/in/x' }]));
      expect(data(operator).status, textOf(operator)).toBe('needs_confirmation');
    } finally {
      await team.close();
    }
  });

  it('refuses a missing object and an empty prefix at submit, renting nothing', async () => {
    const live = sim.world.liveInstances().length;
    const missing = await mcp.call('job_submit', args([{ s3_uri: 's3://inputs/models/nope.bin', remote_path: '/workspace/in/x' }]));
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/input s3:\/\/inputs\/models\/nope\.bin does not exist/);
    const empty = await mcp.call('job_submit', args([{ s3_uri: 's3://inputs/nothing-here/', remote_path: '/workspace/in/x' }]));
    expect(empty.isError).toBe(true);
    expect(textOf(empty)).toMatch(/input s3:\/\/inputs\/nothing-here\/ holds no objects/);
    expect(sim.world.liveInstances()).toHaveLength(live);
  });

  it('refuses an input with both local_path and s3_uri, with neither, or with a pin of its own', async () => {
    writeFileSync(join(copyRoot, 'local.txt'), 'x');
    const both = await mcp.call('job_submit', args([{ local_path: 'local.txt', s3_uri: 's3://inputs/models/m.bin', remote_path: '/workspace/a' }]));
    expect(both.isError).toBe(true);
    expect(textOf(both)).toMatch(/inputs\[0\] \(remote_path \/workspace\/a\) must give exactly one of local_path or s3_uri/);
    const neither = await mcp.call('job_submit', args([{ remote_path: '/workspace/a' }]));
    expect(neither.isError).toBe(true);
    expect(textOf(neither)).toMatch(/exactly one of local_path or s3_uri/);
    const pinned = await mcp.call(
      'job_submit',
      args([{ s3_uri: 's3://inputs/models/m.bin', remote_path: '/workspace/a', pin: { kind: 'object', etag: '"0"', size: 1 } }]),
    );
    expect(pinned.isError).toBe(true);
    expect(textOf(pinned)).toMatch(/Unrecognized key: "pin" at inputs\[0\]/);
  });

  it('refuses a prefix holding a key with ".." before anything is downloaded or rented', async () => {
    // A store that lists a hostile key (s3rver normalises such keys away, real stores keep them).
    const seen: string[] = [];
    const fake: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'GET' && req.url?.includes('list-type=2')) {
        res.setHeader('content-type', 'application/xml');
        const item = (k: string) => `<Contents><Key>${k}</Key><ETag>"abc"</ETag><Size>2</Size></Contents>`;
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>inputs</Name><Prefix>bad/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${item('bad/ok.txt')}${item('bad/../../root/.ssh/authorized_keys')}</ListBucketResult>`,
        );
        return;
      }
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((ok) => fake.listen(0, '127.0.0.1', ok));
    const cfg: S3Config = { ...s3.config, endpoint: `http://127.0.0.1:${(fake.address() as AddressInfo).port}` };
    const other = await connectInMemory(sim, { config: { copyRoot, s3: cfg } });
    try {
      const live = sim.world.liveInstances().length;
      const r = await other.call('job_submit', args([{ s3_uri: 's3://inputs/bad/', remote_path: '/workspace/in/bad' }]));
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/1 object key\(s\) cannot be placed safely on the instance \("bad\/\.\.\/\.\.\/root\/\.ssh\/authorized_keys"\)/);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((s) => s.includes('list-type=2'))).toBe(true);
      expect(sim.world.liveInstances()).toHaveLength(live);
    } finally {
      await other.close();
      await new Promise((ok) => fake.close(ok));
    }
  });

  it.each([
    // Same size: only its version (ETag) tells it apart.
    ['an object overwritten', 's3://inputs/mut/w.bin', '/workspace/in/w.bin', () => put('mut/w.bin', 'version two')],
    ['a prefix given one more object', 's3://inputs/grow/', '/workspace/in/grow', () => put('grow/y.txt', 'new')],
  ])(
    'fails the job when %s after submit, with nothing placed',
    async (_what, uri, remote, change) => {
      await put('mut/w.bin', 'version one');
      await put('grow/x.txt', 'x');
      const spec = args([
        { s3_uri: 's3://inputs/models/m.bin', remote_path: '/workspace/first/m.bin' },
        { s3_uri: uri, remote_path: remote },
      ]);
      const { jobId } = await submit(mcp, spec);
      await change();
      await superviseUntilSettled(mcp.deps, sim, jobId, 's3-in-changed');
      const store = jobsRuntime(mcp.deps).store;
      const job = (await store.getJob(jobId))!;
      expect(job.state).toBe('failed');
      const reasons = (await store.events(jobId)).map((e) => e.reason).join('\n');
      expect(reasons).toContain(`input ${uri} changed since the job was submitted`);
      const { root } = await instanceRoot(jobId);
      expect(existsSync(join(root, 'workspace/first/m.bin'))).toBe(false);
      expect(existsSync(join(root, remote.slice(1)))).toBe(false);
      await client.send(new DeleteObjectCommand({ Bucket: 'inputs', Key: 'grow/y.txt' }));
    },
    150_000,
  );

  it('reuses a staged copy that still matches its pin, and downloads again when it does not', async () => {
    await put('reuse/r.bin', 'staged once');
    const uri = 's3://inputs/reuse/r.bin';
    const pin = await pinS3Input(client, parseInputUri(uri));
    const first = await stageS3Input(mcp.deps, client, 'reusejob', 0, { s3_uri: uri, pin });
    expect(first.localPath).toBe(join(copyRoot, '.job-inputs', 'reusejob', '0'));
    expect(readFileSync(first.localPath, 'utf8')).toBe('staged once');
    // Gone from the bucket: only the staged copy can satisfy the second attempt.
    await client.send(new DeleteObjectCommand({ Bucket: 'inputs', Key: 'reuse/r.bin' }));
    const again = await stageS3Input(mcp.deps, client, 'reusejob', 0, { s3_uri: uri, pin });
    expect(again.files).toEqual(first.files);
    // A staged copy of another size is not trusted: it is fetched again, and the object is gone.
    writeFileSync(first.localPath, 'tampered, longer');
    await expect(stageS3Input(mcp.deps, client, 'reusejob', 0, { s3_uri: uri, pin })).rejects.toThrow(
      /input s3:\/\/inputs\/reuse\/r\.bin changed since the job was submitted/,
    );
  });

  it('never stages through a link put in place of the staging folder', async () => {
    await put('link/l.bin', 'linked');
    const uri = 's3://inputs/link/l.bin';
    const pin = await pinS3Input(client, parseInputUri(uri));
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    mkdirSync(join(copyRoot, '.job-inputs'), { recursive: true });
    symlinkSync(outside, join(copyRoot, '.job-inputs', 'linkjob'));
    await expect(stageS3Input(mcp.deps, client, 'linkjob', 0, { s3_uri: uri, pin })).rejects.toThrow(/never staged through links/);
    expect(readdirSync(outside)).toEqual([]);
  });
});
