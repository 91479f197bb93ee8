import { basename } from 'node:path';
import type { ServerDeps } from '../deps.js';
import { VastMcpError } from '../errors.js';
import { shellQuote } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import { remoteSha256 } from './remote-files.js';
import { hashTree, listTree } from './remote-tree.js';
import { checkPrefix, objectKey, refuseUnmappable } from './s3-keys.js';
import { makeS3Client, parseS3Uri, putStream, readBackSha256 } from './s3-store.js';
import { recordCopies } from './record-copy.js';
import { treeDigest } from './tree-digest.js';
import { TransferInterrupted } from './transfer-errors.js';
import type { CopyRequest, FileReport, TransferOutcome } from './run-copy.js';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';

/** Uploads at once to the store: enough to hide per-object latency, few enough for memory (each buffers a part). */
export const S3_CONCURRENCY = 4;

/**
 * instance → S3 through this server: keys confined under the prefix, the instance's checksums in one
 * pass, objects streamed with bounded concurrency (multipart for large ones), every stored object read
 * back and hashed. A directory is recorded once, as a whole, only when every object matched.
 */
export async function copyToS3(
  deps: ServerDeps,
  req: CopyRequest,
  conn: CopyConnection,
  progress: { setTotal(n: number): void; tick(n: number, label: string): void },
): Promise<TransferOutcome> {
  if (!req.s3Uri) throw new VastMcpError('s3_uri is required for instance_to_s3.', 'invalid_input');
  const { bucket } = parseS3Uri(req.s3Uri);
  const listing = (await withRetries(conn, `Listing ${req.remotePath}`, (s) => listTree(s, req.remotePath, conn.signal))).value;
  const base = req.remotePath.replace(/\/+$/, '');
  // A file lands at prefix/<name>; a directory's files at prefix/<rel>, or prefix/<name>/<rel> when asked (jobs).
  const named = listing.kind === 'dir' && req.s3KeepDirName === true ? `/${basename(base)}` : '';
  const prefix = checkPrefix(`${parseS3Uri(req.s3Uri).prefix}${named}`.replace(/^\/+/, ''));
  const dir = listing.kind === 'dir';
  const wanted =
    listing.kind === 'file'
      ? [{ rel: basename(req.remotePath), size: listing.size, path: req.remotePath }]
      : listing.entries.filter((e) => e.type === 'f').map((e) => ({ rel: e.rel, size: e.size, path: `${base}/${e.rel}` }));
  const skipped =
    listing.kind === 'dir'
      ? listing.entries
          .filter((e) => e.type !== 'f' && e.type !== 'd')
          .map((e) => ({ path: `${base}/${e.rel}`, reason: e.type === 'l' ? 'symbolic link (never followed)' : 'special file' }))
      : [];
  const keyed = wanted.map((f) => ({ ...f, key: objectKey(prefix, f.rel) }));
  const bad = keyed.filter((f) => f.key === null).map((f) => f.rel);
  if (bad.length) refuseUnmappable(bad);
  progress.setTotal(wanted.reduce((s, f) => s + f.size, 0));

  const remote = new Map<string, string>();
  await withRetries(conn, `Checksumming ${req.remotePath}`, async (s) => {
    if (!dir) remote.set(wanted[0]!.rel, await remoteSha256(s, req.remotePath));
    else
      await hashTree(
        s,
        base,
        wanted.filter((f) => !remote.has(f.rel)),
        (rel, sha) => remote.set(rel, sha),
        conn.signal,
      );
  });
  const client = await makeS3Client(deps.config.s3);
  const files: FileReport[] = [];
  const stored = new Map<string, string>();
  try {
    let next = 0;
    const worker = async () => {
      while (next < keyed.length) {
        const f = keyed[next++]!;
        const key = f.key!;
        const r = await withRetries(conn, `Upload of ${f.path} to S3`, async (s) => {
          const ch = await s.channel(`cat -- ${shellQuote(f.path)}`, undefined, { progress: { ...DEFAULT_PROGRESS_RULE, direction: 'in' } });
          ch.end();
          return putStream(client, bucket, key, ch, (n) => progress.tick(n, `${f.path} → s3://${bucket}/${key}`)).catch((e: Error) => {
            throw new TransferInterrupted(e.message);
          });
        });
        const back = await readBackSha256(client, bucket, key);
        const want = remote.get(f.rel)!;
        if (r.value.sha256 !== want || back.sha256 !== want || back.size !== f.size) {
          throw new VastMcpError(
            `Verification failed for s3://${bucket}/${key}: instance ${want.slice(0, 12)}…, sent ${r.value.sha256.slice(0, 12)}…, stored ${back.sha256.slice(0, 12)}… (${back.size} of ${f.size} bytes). Nothing was recorded; check the store's checksum settings (VAST_MCP_S3_CHECKSUMS) and copy again.`,
            'copy_verification_failed',
          );
        }
        stored.set(f.rel, back.sha256);
        files.push({
          source: f.path,
          destination: `s3://${bucket}/${key}`,
          size: f.size,
          sha256: back.sha256,
          resumed_from: 0,
          attempts: r.attempts,
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(S3_CONCURRENCY, keyed.length) }, worker));
  } finally {
    client.destroy();
  }
  const dest = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  if (!dir) {
    const f = files[0]!;
    await recordCopies(deps, [
      {
        instance_id: req.instanceId,
        remote_path: req.remotePath,
        destination: f.destination,
        size: f.size,
        sha256_remote: remote.get(wanted[0]!.rel)!,
        sha256_local: f.sha256,
        at: deps.now(),
      },
    ]);
  } else {
    const digestRemote = treeDigest(wanted.map((f) => ({ rel: f.rel, size: f.size, sha256: remote.get(f.rel)! })));
    const digestStored = treeDigest(wanted.map((f) => ({ rel: f.rel, size: f.size, sha256: stored.get(f.rel) ?? '' })));
    await recordCopies(deps, [
      {
        instance_id: req.instanceId,
        remote_path: base,
        destination: dest,
        size: files.reduce((s, f) => s + f.size, 0),
        sha256_remote: digestRemote,
        sha256_local: digestStored,
        at: deps.now(),
      },
    ]);
  }
  files.sort((a, b) => (a.source < b.source ? -1 : 1));
  return { files, manifest: null, recorded: 1, skipped };
}
