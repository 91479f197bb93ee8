import type { ServerDeps } from '../deps.js';
import { VastMcpError } from '../errors.js';
import { cloudCopy } from './cloud-copy.js';
import { CopyConnection } from './connection.js';
import { checkRemotePath, insideRoot } from './local-paths.js';
import { copyToInstance } from './to-instance.js';
import { copyToLocal } from './to-local.js';
import { copyToS3 } from './to-s3.js';
import { CopyCancelled } from './transfer-errors.js';

export { MAX_ATTEMPTS } from './connection.js';

export type Direction = 'instance_to_local' | 'local_to_instance' | 'instance_to_s3';

export interface CopyRequest {
  instanceId: number;
  direction: Direction;
  remotePath: string;
  localPath?: string;
  s3Uri?: string;
  /** instance_to_s3 of a directory: keep its name under the prefix (prefix/<name>/…), as a local copy does. */
  s3KeepDirName?: boolean;
  preferProxy?: boolean;
  /** instance_to_s3 only: 'cloud' asks the platform's own cloud copy (rclone) to do it. */
  method?: 'stream' | 'cloud';
  connectionId?: number;
  /** Cancellation (the client's notifications/cancelled): every stream stops, nothing unverified is kept as final. */
  signal?: AbortSignal;
}

export interface FileReport {
  source: string;
  destination: string;
  size: number;
  sha256: string;
  resumed_from: number;
  attempts: number;
}

/** What one kind of transfer did: list → transfer → verify → record. */
export interface TransferOutcome {
  files: FileReport[];
  manifest: string | null;
  /** Ledger records written (a directory is one record, written only when all of it verified). */
  recorded: number;
  /** Links and special files that were not copied, named so the user knows. */
  skipped: { path: string; reason: string }[];
}

export interface CopyReport {
  direction: Direction;
  endpoint: 'direct' | 'proxy';
  files: FileReport[];
  bytes: number;
  seconds: number;
  mb_per_s: number;
  warnings: string[];
  manifest: string | null;
  recorded_in_ledger: number;
  skipped: { path: string; reason: string }[];
}

export type Progress = (done: number, total: number, message: string) => Promise<void>;

/** Chooses the one module for the request's kind of transfer and drives it. */
export async function runCopy(deps: ServerDeps, req: CopyRequest, progress: Progress): Promise<CopyReport> {
  checkRemotePath(req.remotePath);
  // Refuse a local path outside the copy root before touching the network.
  if (req.localPath !== undefined) insideRoot(deps.config.copyRoot, req.localPath, 'local_path');
  const conn = new CopyConnection(deps, req.instanceId, req.preferProxy, req.signal);
  const started = deps.monotonicMs();
  let total = 0;
  let done = 0;
  const meter = {
    setTotal: (n: number) => (total = n),
    tick: (n: number, label: string) => {
      done += n;
      void progress(done, total, label);
    },
  };
  let out: TransferOutcome;
  try {
    if (req.direction === 'local_to_instance') out = await copyToInstance(deps, req, conn, meter);
    else if (req.direction === 'instance_to_local') out = await copyToLocal(deps, req, conn, meter);
    else if (req.method === 'cloud') {
      if (!req.s3Uri || req.connectionId === undefined)
        throw new VastMcpError('s3_uri and connection_id are required for a cloud copy.', 'invalid_input');
      const files = await cloudCopy(deps, await conn.session(), req.instanceId, req.remotePath, req.s3Uri, req.connectionId);
      out = { files, manifest: null, recorded: files.length, skipped: [] };
    } else out = await copyToS3(deps, req, conn, meter);
  } catch (e) {
    if (req.signal?.aborted && !(e instanceof CopyCancelled)) throw new CopyCancelled('The copy');
    throw e;
  } finally {
    conn.drop();
  }
  const seconds = Math.max((deps.monotonicMs() - started) / 1000, 0.001);
  const bytes = out.files.reduce((s, f) => s + f.size, 0);
  const warnings = [...conn.warnings];
  if (out.skipped.length) warnings.push(`${out.skipped.length} link(s) or special file(s) were not copied (listed in "skipped").`);
  return {
    direction: req.direction,
    endpoint: conn.endpoint,
    files: out.files,
    bytes,
    seconds: Math.round(seconds * 1000) / 1000,
    mb_per_s: Math.round((bytes / 1e6 / seconds) * 10) / 10,
    warnings,
    manifest: out.manifest,
    recorded_in_ledger: out.recorded,
    skipped: out.skipped,
  };
}
