import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { listTree } from './remote-tree.js';
import { TransferInterrupted } from './transfer-errors.js';

export interface RemoteFile {
  /** Absolute path on the instance. */
  path: string;
  /** Path relative to the copied root ("" for a single file). */
  rel: string;
  size: number;
}

export interface RemoteListing {
  kind: 'file' | 'dir';
  files: RemoteFile[];
}

/**
 * What is at `remotePath` on the instance: one file, or every regular file below a directory.
 * Streamed with no size cap (see listTree); a listing that cannot be read completely fails.
 */
export async function listRemote(session: SshSession, remotePath: string): Promise<RemoteListing> {
  const t = await listTree(session, remotePath);
  if (t.kind === 'file') return { kind: 'file', files: [{ path: remotePath, rel: '', size: t.size }] };
  const base = remotePath.replace(/\/+$/, '');
  return { kind: 'dir', files: t.entries.filter((e) => e.type === 'f').map((e) => ({ path: `${base}/${e.rel}`, rel: e.rel, size: e.size })) };
}

const HASH_CMD = (input: string) => `if command -v openssl >/dev/null 2>&1; then ${input} | openssl dgst -sha256 -r; else ${input} | sha256sum; fi`;

async function hashCommand(session: SshSession, cmd: string, what: string, timeoutMs: number): Promise<string> {
  const r = await session.exec(cmd, timeoutMs, 4096);
  // No exit status: the connection dropped mid-command, which a reconnect can fix.
  if (r.code === null && !r.timedOut) throw new TransferInterrupted(`checksumming ${what} was interrupted`);
  const hex = /^([0-9a-f]{64})\s/.exec(r.stdout.toString('utf8'))?.[1];
  if (r.code !== 0 || !hex)
    throw new VastMcpError(
      `Could not checksum ${what} on the instance: ${JSON.stringify(r.stderr.toString('utf8').trim().slice(0, 300)) || 'no sha256 output'}`,
      'copy_failed',
    );
  return hex;
}

/** sha256 of a file, computed on the instance (openssl uses the CPU's SHA instructions; coreutils as fallback). */
export async function remoteSha256(session: SshSession, path: string, timeoutMs = 3_600_000): Promise<string> {
  const q = shellQuote(path);
  return hashCommand(
    session,
    `if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r ${q}; else sha256sum -- ${q}; fi`,
    path,
    timeoutMs,
  );
}

/** sha256 of the first `len` bytes of a file on the instance: is a local partial really its prefix? */
export async function remotePrefixSha256(session: SshSession, path: string, len: number, timeoutMs = 3_600_000): Promise<string> {
  return hashCommand(session, HASH_CMD(`head -c ${Math.floor(len)} -- ${shellQuote(path)}`), `the first ${len} bytes of ${path}`, timeoutMs);
}
