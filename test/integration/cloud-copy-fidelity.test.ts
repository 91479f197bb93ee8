import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startS3, type TestS3 } from '../helpers/s3.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

// Platform cloud copy as documented: "Cloud Copy Operation Finished" in the status bar, ~30 s late
// (vast.py 1865-1866); no documented failure text; cancel with DELETE /commands/rclone/.
let sim: RunningSimulator | null = null;
let s3: TestS3 | null = null;
let mcp: Connected | null = null;
afterEach(async () => {
  await mcp?.close();
  await sim?.close();
  await s3?.close();
  mcp = sim = s3 = null;
});

async function setup(delaySeconds: number, waitTimeoutSeconds = 60): Promise<{ id: number; conn: number }> {
  sim = await startTestSim({ fidelity: { cloudCopyStatusDelaySeconds: delaySeconds } });
  s3 = await startS3(['results']);
  const id = await rentOne(sim);
  sim.world.clock.advance(600);
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'cr-')), s3: s3.config, waitTimeoutSeconds } });
  const r = await mcp.call('ssh', { instance_id: id, command: 'mkdir -p /workspace/run && head -c 300000 /dev/urandom > /workspace/run/model.pt' });
  expect(r.isError, textOf(r)).toBeFalsy();
  const conn = (
    await simFetch(sim, 'POST', '/_sim/cloud_connections', {
      name: 'my-s3',
      endpoint: s3.config.endpoint,
      access_key: 'S3RVER',
      secret_key: 'S3RVER',
    })
  ).json.id as number;
  return { id, conn };
}

describe('platform cloud copy fidelity', () => {
  it('shows "Cloud Copy Operation Finished" only after the status delay, and cancels on DELETE', async () => {
    const { id, conn } = await setup(30);
    const body = {
      src: '/workspace/run',
      dst: '/results/p',
      instance_id: String(id),
      selected: String(conn),
      transfer: 'Instance to Cloud',
      flags: [],
    };
    expect((await simFetch(sim!, 'POST', '/api/v0/commands/rclone/', body)).status).toBe(200);
    const status = async () => (await simFetch(sim!, 'GET', `/api/v0/instances/${id}/`)).json.instances.status_msg as string;
    // The upload itself ends quickly; its status shows only after the delay.
    await new Promise((r) => setTimeout(r, 800));
    expect(await status()).not.toMatch(/Finished/);
    sim!.world.clock.advance(31);
    expect(await status()).toBe('Cloud Copy Operation Finished');
    const cancel = await simFetch(sim!, 'DELETE', '/api/v0/commands/rclone/', { instance_id: id });
    expect(cancel.status).toBe(200);
  });

  it('completes by reading the bucket back when the status text is late, and records the copy', async () => {
    const { id, conn } = await setup(3600);
    const r = await mcp!.call('copy', {
      instance_id: id,
      direction: 'instance_to_s3',
      method: 'cloud',
      connection_id: conn,
      remote_path: '/workspace/run',
      s3_uri: 's3://results/late',
    });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect((r.structuredContent as any).files).toHaveLength(1);
  });

  it('detects a failed copy by verification, records nothing, and does not wait for its deadline', async () => {
    const { id, conn } = await setup(0);
    const r = await mcp!.call('copy', {
      instance_id: id,
      direction: 'instance_to_s3',
      method: 'cloud',
      connection_id: conn,
      remote_path: '/workspace/run',
      s3_uri: 's3://no-such-bucket/x',
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Verification of the cloud copy failed.*Nothing was recorded/);
    expect(await mcp!.deps.ledger.verifiedCopiesFor(id)).toHaveLength(0);
  });

  it('cancels an unconfirmed copy at its deadline', async () => {
    const { id, conn } = await setup(3600, 1);
    const r = await mcp!.call('copy', {
      instance_id: id,
      direction: 'instance_to_s3',
      method: 'cloud',
      connection_id: conn,
      remote_path: '/workspace/run',
      s3_uri: 's3://no-such-bucket/x',
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/not confirmed.*cancelled/);
    expect(sim!.requests.some((q) => q.method === 'DELETE' && q.path === '/api/v0/commands/rclone')).toBe(true);
  });
});
