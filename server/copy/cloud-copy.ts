import { basename } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import type { SshSession } from '../ssh/ssh-session.js';
import { listRemote, remoteSha256 } from './remote-files.js';
import { makeS3Client, parseS3Uri, readBackSha256 } from './s3-store.js';
import type { FileReport } from './run-copy.js';

/**
 * The platform's cloud copy (rclone run by the host), verified the same way as our own: sha256 on
 * the instance before, and every stored object read back afterwards. Only then is it recorded.
 */
export async function cloudCopy(deps: ServerDeps, session: SshSession, instanceId: number, remotePath: string, s3Uri: string, connectionId: number): Promise<FileReport[]> {
  const connections = await deps.vast.cloudConnections();
  if (!connections.some((c) => c.id === connectionId)) {
    throw new VastMcpError(`Cloud connection ${connectionId} is not on the account (have: ${connections.map((c) => `${c.id} ${c.name}`).join(', ') || 'none'}). Add one in the Vast console, or use method "stream".`, 'invalid_input');
  }
  const { bucket, prefix } = parseS3Uri(s3Uri);
  const listing = await listRemote(session, remotePath);
  const hashes = new Map<string, string>();
  for (const f of listing.files) hashes.set(f.path, await remoteSha256(session, f.path));
  await deps.vast.startCloudCopy({ src: remotePath, dst: `/${bucket}${prefix ? `/${prefix}` : ''}`, instance_id: String(instanceId), selected: String(connectionId), transfer: 'Instance to Cloud', flags: [] });
  deps.audit.record({ tool: 'copy', action: 'cloud_copy_start', args: { instance_id: instanceId, remote_path: remotePath, s3_uri: s3Uri, connection_id: connectionId }, result: 'ok', instance_id: instanceId });
  const deadline = deps.monotonicMs() + deps.config.waitTimeoutSeconds * 1000;
  for (;;) {
    const msg = (await deps.vast.getInstance(instanceId))?.status_msg ?? '';
    if (/rclone: done/i.test(msg)) break;
    if (/rclone: failed/i.test(msg)) throw new VastMcpError(`The platform's cloud copy failed: ${msg}. Nothing was recorded.`, 'copy_failed');
    if (deps.monotonicMs() > deadline) throw new VastMcpError(`The platform's cloud copy did not finish within ${deps.config.waitTimeoutSeconds} s (status: ${msg || 'none'}). Nothing was recorded; check status and copy again.`, 'copy_timeout');
    await deps.sleep(deps.config.pollMinMs);
  }
  const client = await makeS3Client(deps.config.s3);
  const out: FileReport[] = [];
  try {
    for (const f of listing.files) {
      const name = listing.kind === 'file' ? basename(f.path) : f.rel;
      const key = prefix ? `${prefix}/${name}` : name;
      const stored = await readBackSha256(client, bucket, key).catch(() => ({ sha256: 'missing', size: -1 }));
      const remote = hashes.get(f.path)!;
      if (stored.sha256 !== remote) {
        throw new VastMcpError(`Verification of the cloud copy failed for s3://${bucket}/${key}: stored ${stored.sha256.slice(0, 12)}… ≠ ${remote.slice(0, 12)}… on the instance. Nothing more was recorded.`, 'copy_verification_failed');
      }
      deps.ledger.recordVerifiedCopy({ instance_id: instanceId, remote_path: f.path, destination: `s3://${bucket}/${key}`, size: f.size, sha256_remote: remote, sha256_local: stored.sha256, at: deps.now() });
      out.push({ source: f.path, destination: `s3://${bucket}/${key}`, size: f.size, sha256: remote, resumed_from: 0, attempts: 1 });
    }
  } finally {
    client.destroy();
  }
  return out;
}
