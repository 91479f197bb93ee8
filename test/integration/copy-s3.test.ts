import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { makeS3Client } from '../../server/copy/s3-store.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

let sim: RunningSimulator;
let s3: TestS3;
let mcp: Connected;
let id: number;

async function objectSha(key: string): Promise<string> {
  const client = await makeS3Client(s3.config);
  const obj = await client.send(new GetObjectCommand({ Bucket: 'results', Key: key }));
  const h = createHash('sha256');
  for await (const c of obj.Body as Readable) h.update(c as Buffer);
  client.destroy();
  return h.digest('hex');
}

beforeAll(async () => {
  sim = await startTestSim();
  s3 = await startS3(['results']);
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'cr-')), s3: s3.config } });
  const r = await mcp.call('ssh', {
    instance_id: id,
    command: 'mkdir -p /workspace/run/logs && head -c 12000000 /dev/urandom > /workspace/run/model.pt && echo hello > /workspace/run/logs/train.log',
  });
  expect(r.isError).toBeFalsy();
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
  await s3.close();
});

describe('copy to S3', () => {
  it('streams a directory to the bucket, reads every object back, and records it once, as a whole', async () => {
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_s3', remote_path: '/workspace/run', s3_uri: 's3://results/exp1' });
    expect(r.isError, textOf(r)).toBeFalsy();
    const d = r.structuredContent as any;
    expect(d.files.map((f: any) => f.destination).sort()).toEqual(['s3://results/exp1/logs/train.log', 's3://results/exp1/model.pt']);
    const remote = await mcp.call('ssh', { instance_id: id, command: 'sha256sum /workspace/run/model.pt' });
    const remoteSha = (remote.structuredContent as any).stdout.text.slice(0, 64);
    expect(await objectSha('exp1/model.pt')).toBe(remoteSha);
    expect(d.files.find((f: any) => f.source.endsWith('model.pt')).sha256).toBe(remoteSha);
    const ledger = (await mcp.deps.ledger.verifiedCopiesFor(id)).filter((c) => c.destination.startsWith('s3://results/exp1'));
    expect(ledger.map((c) => [c.remote_path, c.destination, c.size])).toEqual([['/workspace/run', 's3://results/exp1', 12_000_006]]);
    expect(d.recorded_in_ledger).toBe(1);
  });

  it.each([
    ['a backslash', "printf x > '/workspace/keys/a\\..\\..\\b'"],
    ['a control character', 'printf x > "/workspace/keys/a$(printf \'\\033\')b"'],
    ['a newline', "printf x > '/workspace/keys/a\nb'"],
  ])('refuses to map a remote name with %s to an object key, uploading and recording nothing', async (_what, make) => {
    const made = await mcp.call('ssh', {
      instance_id: id,
      command: `rm -rf /workspace/keys; mkdir -p /workspace/keys && echo ok > /workspace/keys/fine.txt && ${make}`,
    });
    expect((made.structuredContent as any).exit_code, textOf(made)).toBe(0);
    const before = (await mcp.deps.ledger.verifiedCopiesFor(id)).length;
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_s3', remote_path: '/workspace/keys', s3_uri: 's3://results/keys' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/cannot be stored safely under the bucket prefix/);
    expect(await mcp.deps.ledger.verifiedCopiesFor(id)).toHaveLength(before);
    await expect(objectSha('keys/fine.txt')).rejects.toThrow();
  });

  it.each(['s3://results/../other', 's3://results/a/./b', 's3://results/a//b'])('refuses the prefix of %s', async (uri) => {
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_s3', remote_path: '/workspace/run', s3_uri: uri });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/must be plain path segments/);
  });

  it('catches a store that keeps different bytes, and records nothing', async () => {
    // A store that corrupts one byte of every upload on the way in.
    const { createServer, request } = await import('node:http');
    const upstream = new URL(s3.config.endpoint!);
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.method === 'PUT' && body.length > 1000) {
          body = Buffer.from(body);
          body[500] = (body[500] ?? 0) ^ 0xff;
        }
        const fwd = request(
          {
            host: upstream.hostname,
            port: upstream.port,
            path: req.url,
            method: req.method,
            headers: { ...req.headers, 'content-length': String(body.length) },
          },
          (up) => {
            res.writeHead(up.statusCode ?? 500, up.headers);
            up.pipe(res);
          },
        );
        fwd.end(body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    const bad = await connectInMemory(sim, {
      config: { copyRoot: mkdtempSync(join(tmpdir(), 'cr-')), s3: { ...s3.config, endpoint: `http://127.0.0.1:${port}` } },
    });
    try {
      const before = (await bad.deps.ledger.verifiedCopiesFor(id)).length;
      const r = await bad.call('copy', {
        instance_id: id,
        direction: 'instance_to_s3',
        remote_path: '/workspace/run/model.pt',
        s3_uri: 's3://results/corrupt',
      });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/Verification failed for s3:\/\/results\/corrupt\/model\.pt.*Nothing was recorded/);
      expect(await bad.deps.ledger.verifiedCopiesFor(id)).toHaveLength(before);
    } finally {
      await bad.close();
      proxy.close();
    }
  });

  it('refuses a malformed bucket URI', async () => {
    const r = await mcp.call('copy', { instance_id: id, direction: 'instance_to_s3', remote_path: '/workspace/run', s3_uri: 's3://A' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/must look like s3:\/\/bucket-name/);
  });
});

describe('platform cloud copy (rclone)', () => {
  it('starts the host-side copy, waits for it, verifies every object and records it', async () => {
    const { simFetch } = await import('../helpers/sim.js');
    const added = await simFetch(sim, 'POST', '/_sim/cloud_connections', {
      name: 'my-s3',
      endpoint: s3.config.endpoint,
      access_key: 'S3RVER',
      secret_key: 'S3RVER',
    });
    const r = await mcp.call('copy', {
      instance_id: id,
      direction: 'instance_to_s3',
      method: 'cloud',
      connection_id: added.json.id,
      remote_path: '/workspace/run',
      s3_uri: 's3://results/cloud',
    });
    expect(r.isError, textOf(r)).toBeFalsy();
    const d = r.structuredContent as any;
    expect(d.files.map((f: any) => f.destination).sort()).toEqual(['s3://results/cloud/logs/train.log', 's3://results/cloud/model.pt']);
    expect(await objectSha('cloud/model.pt')).toBe(d.files.find((f: any) => f.destination.endsWith('model.pt')).sha256);
    expect(sim.requests.some((q) => q.method === 'POST' && q.path === '/api/v0/commands/rclone')).toBe(true);
  });

  it('names the connections when the id is unknown', async () => {
    const r = await mcp.call('copy', {
      instance_id: id,
      direction: 'instance_to_s3',
      method: 'cloud',
      connection_id: 999,
      remote_path: '/workspace/run',
      s3_uri: 's3://results/x',
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Cloud connection 999 is not on the account \(have: \d+ my-s3\)/);
  });
});
