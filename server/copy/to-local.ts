import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { ServerDeps } from '../deps.js';
import { VastMcpError } from '../errors.js';
import { withRetries, type CopyConnection } from './connection.js';
import { withDestinationLock } from './dest-lock.js';
import { downloadFile } from './file-download.js';
import { isWorkingName, LocalTree, PARTIAL_SUFFIX } from './local-tree.js';
import { openOnePass } from './one-pass.js';
import { insideRoot } from './local-paths.js';
import { listTree } from './remote-tree.js';
import { recordCopies } from './record-copy.js';
import { downloadTree } from './tree-download.js';
import type { CopyRequest, FileReport, TransferOutcome } from './run-copy.js';

export const MANIFEST_NAME = 'vast-mcp-manifest.json';

function writeManifest(path: string, body: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * instance → local. One file: ranged streams into a partial, verified, recorded. A directory: one
 * tar stream (see tree-download), recorded once, as a whole, and only when every file verified.
 */
export async function copyToLocal(
  deps: ServerDeps,
  req: CopyRequest,
  conn: CopyConnection,
  progress: { setTotal(n: number): void; tick(n: number, label: string): void },
): Promise<TransferOutcome> {
  if (!req.localPath) throw new VastMcpError('local_path is required for instance_to_local.', 'invalid_input');
  const lexical = insideRoot(deps.config.copyRoot, req.localPath, 'local_path');
  mkdirSync(deps.config.copyRoot, { recursive: true, mode: 0o700 });
  const tree = new LocalTree(realpathSync.native(deps.config.copyRoot));
  const segs = relative(resolve(deps.config.copyRoot), lexical).split(sep).filter(Boolean);
  const phaseStart = deps.monotonicMs();
  // Nothing to resume from: list, checksum and stream at once (one round of remote commands).
  const speculate = ![lexical, join(lexical, basename(req.remotePath))].some((p) => existsSync(join(dirname(p), `.${basename(p)}${PARTIAL_SUFFIX}`)));
  const opened = (
    await withRetries(conn, `Listing ${req.remotePath}`, async (s) =>
      speculate ? openOnePass(s, req.remotePath, conn.signal) : { listing: await listTree(s, req.remotePath, conn.signal), data: null, hashes: null },
    )
  ).value;
  const listing = opened.listing;
  const t0 = deps.monotonicMs();
  deps.logger.debug({ phase: 'listed', ms: t0 - phaseStart, speculate }, 'copy phase');

  if (listing.kind === 'file') {
    progress.setTotal(listing.size);
    let isDir = false;
    try {
      isDir = statSync(lexical).isDirectory();
    } catch {
      /* absent */
    }
    const destSegs = req.localPath.endsWith('/') || isDir || segs.length === 0 ? [...segs, basename(req.remotePath)] : segs;
    const dir = tree.dir(destSegs.slice(0, -1));
    const name = destSegs.at(-1)!;
    const first = opened.data && opened.hashes ? { data: opened.data, hash: opened.hashes.wait('') } : undefined;
    first?.hash.catch(() => undefined);
    const dl = await withDestinationLock(join(dir, name), () =>
      downloadFile(conn, tree, req.remotePath, listing.size, dir, name, (n) => progress.tick(n, req.remotePath), first),
    );
    await recordCopies(deps, [
      {
        instance_id: req.instanceId,
        remote_path: req.remotePath,
        destination: dl.destination,
        size: listing.size,
        sha256_remote: dl.sha256,
        sha256_local: dl.sha256,
        at: deps.now(),
      },
    ]);
    const file: FileReport = {
      source: req.remotePath,
      destination: dl.destination,
      size: listing.size,
      sha256: dl.sha256,
      resumed_from: dl.resumedFrom,
      attempts: dl.attempts,
    };
    return { files: [file], manifest: null, recorded: 1, skipped: [] };
  }

  const emptyTarget = !existsSync(lexical) || (statSync(lexical).isDirectory() && readdirSync(lexical).length === 0);
  let first = opened.data && opened.hashes ? { data: opened.data, hashes: opened.hashes } : undefined;
  if (first && (!emptyTarget || listing.entries.some((e) => e.rel.split('/').some(isWorkingName)))) {
    // Files may be there to resume from (or names to leave out): list first, then send what is missing.
    first.data.close();
    first = undefined;
  }
  const top = listing.entries.find((e) => e.rel === MANIFEST_NAME);
  if (top)
    throw new VastMcpError(
      `${req.remotePath}/${MANIFEST_NAME} exists on the instance, and that name is where this copy writes its manifest; rename it or copy its directory's contents one by one.`,
      'copy_failed',
    );
  progress.setTotal(listing.entries.reduce((s, e) => s + (e.type === 'f' ? e.size : 0), 0));
  if (!segs.length)
    throw new VastMcpError('local_path must name a directory inside the copy root for a directory copy (e.g. "results").', 'invalid_input');
  tree.dir(segs.slice(0, -1));
  const base = req.remotePath.replace(/\/+$/, '');
  const out = await withDestinationLock(join(tree.root, ...segs), () =>
    downloadTree(conn, base, tree, segs, listing.entries, (n, label) => progress.tick(n, label), first),
  );
  deps.logger.debug({ phase: 'transferred', ms: deps.monotonicMs() - t0, files: out.files.length }, 'copy phase');
  if (out.digestLocal !== out.digestRemote)
    throw new VastMcpError(
      `The copy of ${req.remotePath} does not match the instance's checksums as a whole; nothing was recorded.`,
      'copy_verification_failed',
    );
  const target = join(tree.root, ...segs);
  const files: FileReport[] = out.files.map((f) => ({
    source: `${base}/${f.rel}`,
    destination: f.destination,
    size: f.size,
    sha256: f.sha256,
    resumed_from: f.reused ? f.size : 0,
    attempts: out.attempts,
  }));
  const manifest = join(target, MANIFEST_NAME);
  writeManifest(manifest, { created: new Date().toISOString(), source: req.remotePath, tree_sha256: out.digestLocal, files, skipped: out.skipped });
  const bytes = files.reduce((s, f) => s + f.size, 0);
  // One record for the whole tree: it exists only once every file in it verified.
  await recordCopies(deps, [
    {
      instance_id: req.instanceId,
      remote_path: base,
      destination: target,
      size: bytes,
      sha256_remote: out.digestRemote,
      sha256_local: out.digestLocal,
      at: deps.now(),
    },
  ]);
  return { files, manifest, recorded: 1, skipped: out.skipped.map((s) => ({ path: `${base}/${s.rel}`, reason: s.reason })) };
}
