import { basename } from 'node:path';
// Types only: the AWS SDK (~20 MB resident) loads when an S3 copy first runs, not at server start.
import type { S3Client } from '@aws-sdk/client-s3';
import { VastMcpError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import type { SshSession } from '../ssh/ssh-session.js';
import { listRemote, remoteSha256 } from './remote-files.js';
import { headObject, makeS3Client, parseS3Uri, readBackSha256 } from './s3-store.js';
import { recordCopies } from './record-copy.js';
import type { FileReport } from './run-copy.js';

/**
 * The only completion text the platform documents: vast.py 1865-1866 tells users to look for
 * "Cloud Copy Operation Finished" in the status bar, "~30 seconds delayed". Failure has no
 * documented wording, so it is never inferred from text alone: the bucket is read back.
 */
const FINISHED = /cloud copy operation (finished|complete)/i;
const FAILED_HINT = /cloud copy.*(fail|error|cancel)|rclone.*(fail|error)/i;

interface Expected {
  path: string;
  key: string;
  size: number;
  sha256: string;
}

/** Every object present with the expected size (cheap HEAD probes; hashes come after). */
async function sizesMatch(client: S3Client, bucket: string, files: Expected[]): Promise<boolean> {
  for (const f of files) {
    const head = await headObject(client, bucket, f.key).catch(() => null);
    if (head === null || head.size !== f.size) return false;
  }
  return true;
}

/** The first file whose stored object does not hash to the instance's sha256, or null when all do. */
async function firstMismatch(client: S3Client, bucket: string, files: Expected[]): Promise<{ f: Expected; stored: string } | null> {
  for (const f of files) {
    const stored = await readBackSha256(client, bucket, f.key).catch(() => ({ sha256: 'missing', size: -1 }));
    if (stored.sha256 !== f.sha256) return { f, stored: stored.sha256 };
  }
  return null;
}

/**
 * The platform's cloud copy (rclone run by the host), verified the same way as our own: sha256 on
 * the instance before, and every stored object read back afterwards. Only then is it recorded.
 * Completion is seen either in the status text or, since that text is late, by the bucket itself;
 * an unconfirmed copy is cancelled (`DELETE /commands/rclone/`) at the deadline.
 */
export async function cloudCopy(
  deps: ServerDeps,
  session: SshSession,
  instanceId: number,
  remotePath: string,
  s3Uri: string,
  connectionId: number,
): Promise<FileReport[]> {
  const connections = await deps.vast.cloudConnections();
  if (!connections.some((c) => c.id === connectionId)) {
    throw new VastMcpError(
      `Cloud connection ${connectionId} is not on the account (have: ${connections.map((c) => `${c.id} ${c.name}`).join(', ') || 'none'}). Add one in the Vast console, or use method "stream".`,
      'invalid_input',
    );
  }
  const { bucket, prefix } = parseS3Uri(s3Uri);
  const listing = await listRemote(session, remotePath);
  const files: Expected[] = [];
  for (const f of listing.files) {
    const name = listing.kind === 'file' ? basename(f.path) : f.rel;
    files.push({ path: f.path, key: prefix ? `${prefix}/${name}` : name, size: f.size, sha256: await remoteSha256(session, f.path) });
  }
  const before = (await deps.vast.getInstance(instanceId))?.status_msg ?? '';
  await deps.vast.startCloudCopy({
    src: remotePath,
    dst: `/${bucket}${prefix ? `/${prefix}` : ''}`,
    instance_id: String(instanceId),
    selected: String(connectionId),
    transfer: 'Instance to Cloud',
    flags: [],
  });
  deps.audit.record({
    tool: 'copy',
    action: 'cloud_copy_start',
    args: { instance_id: instanceId, remote_path: remotePath, s3_uri: s3Uri, connection_id: connectionId },
    result: 'ok',
    instance_id: instanceId,
  });
  const deadline = deps.monotonicMs() + deps.config.waitTimeoutSeconds * 1000;
  const client = await makeS3Client(deps.config.s3);
  try {
    // A "Finished" left over from an earlier copy only counts once the status has moved on.
    let moved = !FINISHED.test(before);
    for (;;) {
      // The deadline includes the request in flight.
      const left = Math.max(1, Math.ceil(deadline - deps.monotonicMs()));
      const msg =
        (
          await deps.vast.getInstance(instanceId, { signal: AbortSignal.timeout(left) }).catch((e: unknown) => {
            if (deps.monotonicMs() > deadline) return null;
            throw e;
          })
        )?.status_msg ?? '';
      if (msg !== before) moved = true;
      const finished = moved && FINISHED.test(msg);
      const failedText = moved && FAILED_HINT.test(msg);
      if (finished || failedText || (await sizesMatch(client, bucket, files))) {
        const bad = await firstMismatch(client, bucket, files);
        if (!bad) break;
        if (finished || failedText) {
          throw new VastMcpError(
            `Verification of the cloud copy failed for s3://${bucket}/${bad.f.key}: stored ${bad.stored.slice(0, 12)}… ≠ ${bad.f.sha256.slice(0, 12)}… on the instance (platform status: ${msg.slice(0, 200) || 'none'}). Nothing was recorded.`,
            'copy_verification_failed',
          );
        }
      }
      if (deps.monotonicMs() > deadline) {
        await deps.vast.cancelCloudCopy(instanceId).catch(() => undefined);
        throw new VastMcpError(
          `The platform's cloud copy was not confirmed within ${deps.config.waitTimeoutSeconds} s (status: ${msg.slice(0, 200) || 'none'}); it was cancelled and nothing was recorded. Check the bucket, or copy again with method "stream".`,
          'copy_timeout',
        );
      }
      await deps.sleep(deps.config.pollMinMs);
    }
  } finally {
    client.destroy();
  }
  const at = deps.now();
  await recordCopies(
    deps,
    files.map((f) => ({
      instance_id: instanceId,
      remote_path: f.path,
      destination: `s3://${bucket}/${f.key}`,
      size: f.size,
      sha256_remote: f.sha256,
      sha256_local: f.sha256,
      at,
    })),
  );
  return files.map((f) => ({ source: f.path, destination: `s3://${bucket}/${f.key}`, size: f.size, sha256: f.sha256, resumed_from: 0, attempts: 1 }));
}
