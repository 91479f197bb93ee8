import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import { openInstanceSsh, type Access } from '../ssh/access.js';
import { shellQuote, SshError, type SshSession } from '../ssh/ssh-session.js';
import { cloudCopy } from './cloud-copy.js';
import { downloadToPartial, promote, TransferInterrupted } from './download.js';
import { checkRemotePath, insideRoot } from './local-paths.js';
import { listRemote, remoteSha256, type RemoteFile } from './remote-files.js';
import { makeS3Client, parseS3Uri, putStream, readBackSha256 } from './s3-store.js';
import { localSha256, promoteRemote, removeRemote, uploadToPartial } from './upload.js';

export type Direction = 'instance_to_local' | 'local_to_instance' | 'instance_to_s3';

export interface CopyRequest {
  instanceId: number;
  direction: Direction;
  remotePath: string;
  localPath?: string;
  s3Uri?: string;
  preferProxy?: boolean;
  /** instance_to_s3 only: 'cloud' asks the platform's own cloud copy (rclone) to do it. */
  method?: 'stream' | 'cloud';
  connectionId?: number;
}

export interface FileReport {
  source: string;
  destination: string;
  size: number;
  sha256: string;
  resumed_from: number;
  attempts: number;
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
}

export type Progress = (done: number, total: number, message: string) => Promise<void>;

export const MAX_ATTEMPTS = 4;

/** An SSH connection that is re-opened after a drop, so a transfer can resume where it stopped. */
class Connection {
  access: Access | null = null;
  endpoint: 'direct' | 'proxy' = 'direct';
  readonly warnings = new Set<string>();

  constructor(
    private readonly deps: ServerDeps,
    private readonly req: CopyRequest,
  ) {}

  async session(): Promise<SshSession> {
    if (!this.access) {
      this.access = await openInstanceSsh(this.deps, this.req.instanceId, { attachKey: true, readinessMs: 60_000, preferProxy: this.req.preferProxy });
      for (const w of this.access.warnings) this.warnings.add(w);
      this.endpoint = this.access.endpoint.kind;
    }
    return this.access.session;
  }

  drop(): void {
    this.access?.session.end();
    this.access = null;
  }
}

/** Runs `step` with reconnects on interruption; the step resumes from what is already there. */
async function withRetries<T>(conn: Connection, what: string, step: (s: SshSession, attempt: number) => Promise<T>): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await step(await conn.session(), attempt), attempts: attempt };
    } catch (e) {
      const retryable = e instanceof TransferInterrupted || e instanceof SshError;
      conn.drop();
      if (!retryable || attempt >= MAX_ATTEMPTS) {
        if (retryable) throw new VastMcpError(`${what} failed after ${attempt} attempts: ${(e as Error).message}. What was received is kept and the next copy resumes from it.`, 'copy_interrupted');
        throw e;
      }
    }
  }
}

function walkLocal(root: string): { path: string; rel: string; size: number }[] {
  const st = statSync(root);
  if (st.isFile()) return [{ path: root, rel: '', size: st.size }];
  const out: { path: string; rel: string; size: number }[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) visit(p);
      else if (s.isFile()) out.push({ path: p, rel: relative(root, p), size: s.size });
    }
  };
  visit(root);
  return out;
}

function writeManifest(path: string, files: FileReport[]): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ created: new Date().toISOString(), files }, null, 2)}\n`);
  renameSync(tmp, path);
}

export async function runCopy(deps: ServerDeps, req: CopyRequest, progress: Progress): Promise<CopyReport> {
  checkRemotePath(req.remotePath);
  // Refuse a local path outside the copy root before touching the network.
  if (req.localPath !== undefined) insideRoot(deps.config.copyRoot, req.localPath, 'local_path');
  const conn = new Connection(deps, req);
  const started = deps.monotonicMs();
  const files: FileReport[] = [];
  let recorded = 0;
  let manifest: string | null = null;
  let total = 0;
  let done = 0;
  const tick = (n: number, label: string) => {
    done += n;
    void progress(done, total, label);
  };
  try {
    if (req.direction === 'local_to_instance') {
      if (!req.localPath) throw new VastMcpError('local_path is required for local_to_instance.', 'invalid_input');
      const src = insideRoot(deps.config.copyRoot, req.localPath, 'local_path');
      if (!existsSync(src)) throw new VastMcpError(`local_path ${req.localPath} does not exist under ${deps.config.copyRoot}.`, 'copy_source_missing');
      const list = walkLocal(src);
      total = list.reduce((s, f) => s + f.size, 0);
      for (const f of list) {
        const dest = f.rel ? `${req.remotePath.replace(/\/+$/, '')}/${f.rel.split('\\').join('/')}` : req.remotePath;
        checkRemotePath(dest);
        const sha = await localSha256(f.path);
        const r = await withRetries(conn, `Upload of ${f.path}`, async (s) => uploadToPartial(s, f.path, f.size, dest, (n) => tick(n, dest)));
        const session = await conn.session();
        const remote = await remoteSha256(session, r.value);
        if (remote !== sha) {
          await removeRemote(session, r.value);
          throw new VastMcpError(`Verification failed for ${dest}: sha256 on the instance ${remote.slice(0, 12)}… ≠ local ${sha.slice(0, 12)}…. The partial upload was removed.`, 'copy_verification_failed');
        }
        await promoteRemote(session, r.value, dest);
        files.push({ source: f.path, destination: dest, size: f.size, sha256: sha, resumed_from: 0, attempts: r.attempts });
      }
    } else {
      const session = await conn.session();
      const listing = await listRemote(session, req.remotePath);
      total = listing.files.reduce((s, f) => s + f.size, 0);
      if (req.direction === 'instance_to_local') {
        if (!req.localPath) throw new VastMcpError('local_path is required for instance_to_local.', 'invalid_input');
        const target = insideRoot(deps.config.copyRoot, req.localPath, 'local_path');
        const destOf = (f: RemoteFile) => {
          if (listing.kind === 'file') return req.localPath!.endsWith('/') || (existsSync(target) && statSync(target).isDirectory()) ? join(target, basename(f.path)) : target;
          return insideRoot(target, f.rel, 'file from the instance');
        };
        for (const f of listing.files) {
          const dest = destOf(f);
          const r = await withRetries(conn, `Download of ${f.path}`, async (s) => {
            // The instance hashes its copy on a second channel while the bytes stream here.
            const [remote, dl] = await Promise.all([remoteSha256(s, f.path), downloadToPartial(s, f.path, f.size, dest, (n) => tick(n, f.path))]);
            return { remote, dl };
          });
          const { remote, dl } = r.value;
          if (dl.sha256 !== remote) {
            unlinkSync(dl.partialPath);
            throw new VastMcpError(`Verification failed for ${f.path}: received sha256 ${dl.sha256.slice(0, 12)}… ≠ ${remote.slice(0, 12)}… on the instance. The partial file was deleted and nothing was recorded; copy again.`, 'copy_verification_failed');
          }
          await promote(dl.partialPath, dest);
          deps.ledger.recordVerifiedCopy({ instance_id: req.instanceId, remote_path: f.path, destination: dest, size: f.size, sha256_remote: remote, sha256_local: dl.sha256, at: deps.now() });
          recorded++;
          files.push({ source: f.path, destination: dest, size: f.size, sha256: dl.sha256, resumed_from: dl.resumedFrom, attempts: r.attempts });
        }
        if (listing.kind === 'dir') {
          mkdirSync(target, { recursive: true });
          manifest = join(target, 'vast-mcp-manifest.json');
          writeManifest(manifest, files);
        }
      } else if (req.method === 'cloud') {
        if (!req.s3Uri || req.connectionId === undefined) throw new VastMcpError('s3_uri and connection_id are required for a cloud copy.', 'invalid_input');
        for (const f of await cloudCopy(deps, session, req.instanceId, req.remotePath, req.s3Uri, req.connectionId)) {
          files.push(f);
          recorded++;
        }
      } else {
        if (!req.s3Uri) throw new VastMcpError('s3_uri is required for instance_to_s3.', 'invalid_input');
        const { bucket, prefix } = parseS3Uri(req.s3Uri);
        const client = await makeS3Client(deps.config.s3);
        try {
          for (const f of listing.files) {
            const name = listing.kind === 'file' ? basename(f.path) : f.rel;
            const key = prefix ? `${prefix}/${name}` : name;
            const r = await withRetries(conn, `Upload of ${f.path} to S3`, async (s) => {
              const remote = await remoteSha256(s, f.path);
              const ch = await s.channel(`cat -- ${shellQuote(f.path)}`);
              ch.end();
              const sent = await putStream(client, bucket, key, ch, (n) => tick(n, `${f.path} → s3://${bucket}/${key}`)).catch((e: Error) => {
                throw new TransferInterrupted(e.message);
              });
              return { remote, sent };
            });
            const stored = await readBackSha256(client, bucket, key);
            const { remote, sent } = r.value;
            if (remote !== sent.sha256 || stored.sha256 !== remote || stored.size !== f.size) {
              throw new VastMcpError(`Verification failed for s3://${bucket}/${key}: instance ${remote.slice(0, 12)}…, sent ${sent.sha256.slice(0, 12)}…, stored ${stored.sha256.slice(0, 12)}… (${stored.size} of ${f.size} bytes). Nothing was recorded; check the store's checksum settings (VAST_MCP_S3_CHECKSUMS) and copy again.`, 'copy_verification_failed');
            }
            deps.ledger.recordVerifiedCopy({ instance_id: req.instanceId, remote_path: f.path, destination: `s3://${bucket}/${key}`, size: f.size, sha256_remote: remote, sha256_local: stored.sha256, at: deps.now() });
            recorded++;
            files.push({ source: f.path, destination: `s3://${bucket}/${key}`, size: f.size, sha256: stored.sha256, resumed_from: 0, attempts: r.attempts });
          }
        } finally {
          client.destroy();
        }
      }
    }
  } finally {
    conn.drop();
  }
  const seconds = Math.max((deps.monotonicMs() - started) / 1000, 0.001);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  return {
    direction: req.direction,
    endpoint: conn.endpoint,
    files,
    bytes,
    seconds: Math.round(seconds * 1000) / 1000,
    mb_per_s: Math.round((bytes / 1e6 / seconds) * 10) / 10,
    warnings: [...conn.warnings],
    manifest,
    recorded_in_ledger: recorded,
  };
}

