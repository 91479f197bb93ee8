import type { ServerDeps } from '../deps.js';
import { VastMcpError } from '../errors.js';
import { withRetries, type CopyConnection } from './connection.js';
import { checkRemotePath } from './local-paths.js';
import { walkLocal } from './local-walk.js';
import { remoteSha256 } from './remote-files.js';
import { uploadTree } from './tree-upload.js';
import { localSha256, promoteRemote, removeRemote, uploadToPartial } from './upload.js';
import type { CopyRequest, FileReport, TransferOutcome } from './run-copy.js';

/** local → instance: one file through a partial (resumable), a directory as one tar stream. Never recorded: nothing leaves the instance. */
export async function copyToInstance(
  deps: ServerDeps,
  req: CopyRequest,
  conn: CopyConnection,
  progress: { setTotal(n: number): void; tick(n: number, label: string): void },
): Promise<TransferOutcome> {
  if (!req.localPath) throw new VastMcpError('local_path is required for local_to_instance.', 'invalid_input');
  const walk = walkLocal(deps.config.copyRoot, req.localPath);
  progress.setTotal(walk.files.reduce((s, f) => s + f.size, 0));
  const skipped = walk.skipped;
  if (walk.kind === 'file') {
    const f = walk.files[0]!;
    const dest = req.remotePath;
    const sha = await localSha256(f.path);
    const r = await withRetries(conn, `Upload of ${f.path}`, async (s) =>
      uploadToPartial(s, f.path, f.size, dest, (n) => progress.tick(n, dest), conn.signal),
    );
    const session = await conn.session();
    const remote = await remoteSha256(session, r.value.partial);
    if (remote !== sha) {
      await removeRemote(session, r.value.partial);
      throw new VastMcpError(
        `Verification failed for ${dest}: sha256 on the instance ${remote.slice(0, 12)}… ≠ local ${sha.slice(0, 12)}…. The partial upload was removed.`,
        'copy_verification_failed',
      );
    }
    await promoteRemote(session, r.value.partial, dest);
    return {
      files: [{ source: f.path, destination: dest, size: f.size, sha256: sha, resumed_from: r.value.resumedFrom, attempts: r.attempts }],
      manifest: null,
      recorded: 0,
      skipped,
    };
  }
  const base = req.remotePath.replace(/\/+$/, '');
  for (const f of walk.files) checkRemotePath(`${base}/${f.rel}`);
  const up = await uploadTree(conn, walk.files, walk.dirs, base, (n, label) => progress.tick(n, label));
  const files: FileReport[] = walk.files.map((f) => ({
    source: f.path,
    destination: `${base}/${f.rel}`,
    size: f.size,
    sha256: up.sha.get(f.rel)!,
    resumed_from: 0,
    attempts: up.attempts,
  }));
  return { files, manifest: null, recorded: 0, skipped: skipped.map((s) => ({ path: s.path, reason: s.reason })) };
}
