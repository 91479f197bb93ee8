import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SimHttpError } from '../http-error.js';
import { ok, type SimRequest } from '../http-router.js';
import { bodyObject, liveInstance, type RouteContext } from './context.js';

export interface CloudConnection {
  id: number;
  name: string;
  cloud_type: 's3';
  endpoint: string;
  region: string;
  access_key: string;
  secret_key: string;
}

function filesUnder(root: string): string[] {
  const st = statSync(root);
  if (st.isFile()) return [root];
  return readdirSync(root).flatMap((n) => filesUnder(join(root, n)));
}

/**
 * The platform's cloud copy (`POST /commands/rclone/`, body `{src,dst,instance_id,selected,transfer,flags}`:
 * vast.py 1818-1825, DOC cloud_copy.yaml): the host itself uploads the instance's files to a connected
 * bucket. Any 200 means "started"; progress shows only in the instance's status bar, "~30 seconds
 * delayed", and the end as "Cloud Copy Operation Finished" (vast.py 1865-1866). The platform words no
 * failure we know of: the simulator says "Cloud Copy Operation Failed" and clients must verify by
 * reading the bucket back. `DELETE /commands/rclone/ {instance_id}` cancels (vast.py `cancel sync`).
 */
export function registerCloudRoutes(ctx: RouteContext): void {
  const { router, world } = ctx;
  const connections: CloudConnection[] = [];
  const running = new Map<number, { cancelled: boolean }>();
  const report = (inst: { delayedStatus?: { at: number; msg: string } | null; statusMsg: string }, msg: string): void => {
    const delay = world.fidelity.cloudCopyStatusDelaySeconds;
    if (delay <= 0) inst.statusMsg = msg;
    else inst.delayedStatus = { at: world.now() + delay, msg };
  };

  // DOC show_connections.yaml; vast.py show connections.
  router.add('GET', '/api/v0/users/cloud_integrations', () => ok(connections.map((c) => ({ id: c.id, name: c.name, cloud_type: c.cloud_type }))));
  router.add(
    'POST',
    '/_sim/cloud_connections',
    (req: SimRequest) => {
      const b = bodyObject(req.body) as Partial<CloudConnection>;
      if (!b.endpoint || !b.access_key || !b.secret_key)
        throw new SimHttpError(400, 'invalid_args', 'endpoint, access_key and secret_key are required');
      const c: CloudConnection = {
        id: 100 + connections.length + 1,
        name: b.name ?? 's3',
        cloud_type: 's3',
        endpoint: b.endpoint,
        region: b.region ?? 'us-east-1',
        access_key: b.access_key,
        secret_key: b.secret_key,
      };
      connections.push(c);
      return ok({ success: true, id: c.id });
    },
    { auth: false },
  );

  router.add('POST', '/api/v0/commands/rclone', (req: SimRequest) => {
    const b = bodyObject(req.body);
    const inst = liveInstance(ctx, String(b.instance_id));
    const conn = connections.find((c) => String(c.id) === String(b.selected));
    if (!conn)
      throw new SimHttpError(
        404,
        'no_such_connection',
        `Cloud connection ${String(b.selected)} not found. See GET /api/v0/users/cloud_integrations/.`,
      );
    if ((b.transfer ?? 'Instance to Cloud') !== 'Instance to Cloud')
      throw new SimHttpError(400, 'invalid_args', 'The simulator supports "Instance to Cloud" only.');
    const src = ctx.ssh?.sandbox.hostPath(inst.id, String(b.src ?? '/workspace'));
    if (!src) throw new SimHttpError(400, 'invalid_args', 'src must be under /workspace or /root');
    const dst = String(b.dst ?? '/').replace(/^\/+/, '');
    const [bucket, ...rest] = dst.split('/');
    if (!bucket) throw new SimHttpError(400, 'invalid_args', 'dst must be /bucket/prefix');
    const prefix = rest.join('/').replace(/\/+$/, '');
    const client = new S3Client({
      endpoint: conn.endpoint,
      region: conn.region,
      forcePathStyle: true,
      credentials: { accessKeyId: conn.access_key, secretAccessKey: conn.secret_key },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    report(inst, 'Cloud Copy Operation Started');
    const job = { cancelled: false };
    running.set(inst.id, job);
    void (async () => {
      try {
        const root = statSync(src).isFile() ? src.slice(0, src.lastIndexOf('/')) : src;
        for (const file of filesUnder(src)) {
          if (job.cancelled) throw new Error('cancelled');
          const key = [prefix, relative(root, file)].filter(Boolean).join('/');
          await new Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(file) } }).done();
          world.chargeBandwidth(inst, statSync(file).size, 0);
        }
        report(inst, 'Cloud Copy Operation Finished');
      } catch (e) {
        report(inst, job.cancelled ? 'Cloud Copy Operation Cancelled' : `Cloud Copy Operation Failed: ${(e as Error).message.slice(0, 200)}`);
      } finally {
        if (running.get(inst.id) === job) running.delete(inst.id);
        client.destroy();
      }
    })();
    return ok({ success: true, msg: 'Cloud copy started.' });
  });

  router.add('DELETE', '/api/v0/commands/rclone', (req: SimRequest) => {
    const b = bodyObject(req.body);
    const inst = liveInstance(ctx, String(b.instance_id));
    const job = running.get(inst.id);
    if (job) job.cancelled = true;
    return ok({ success: true, msg: job ? 'Cloud copy cancelled.' : 'No cloud copy running on this instance.' });
  });
}
