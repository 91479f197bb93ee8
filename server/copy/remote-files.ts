import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { TransferInterrupted } from './download.js';

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

const MANIFEST_CAP = 32 * 1024 * 1024;

/** What is at `remotePath` on the instance: one file, or every regular file below a directory. */
export async function listRemote(session: SshSession, remotePath: string): Promise<RemoteListing> {
  const q = shellQuote(remotePath);
  const cmd = `p=${q}; if [ -d "$p" ]; then printf 'D\\0'; find "$p" -type f -printf '%s\\t%P\\0'; elif [ -f "$p" ]; then printf 'F\\0'; stat -c '%s' "$p"; else printf 'N\\0'; fi`;
  const r = await session.exec(cmd, 120_000, MANIFEST_CAP);
  if (r.code !== 0) throw new VastMcpError(`Listing ${remotePath} on the instance failed: ${r.stderr.toString('utf8').trim().slice(0, 300)}`, 'copy_failed');
  const text = r.stdout.toString('utf8');
  const [kind, ...rest] = text.split('\0');
  if (kind === 'N') throw new VastMcpError(`${remotePath} does not exist on the instance (only /workspace and /root hold your files).`, 'copy_source_missing');
  if (kind === 'F') return { kind: 'file', files: [{ path: remotePath, rel: '', size: Number(rest.join('').trim()) }] };
  const base = remotePath.replace(/\/+$/, '');
  const files = rest.filter(Boolean).map((entry) => {
    const tab = entry.indexOf('\t');
    const rel = entry.slice(tab + 1);
    return { path: `${base}/${rel}`, rel, size: Number(entry.slice(0, tab)) };
  });
  return { kind: 'dir', files };
}

/** sha256 of a file, computed on the instance. */
export async function remoteSha256(session: SshSession, path: string, timeoutMs = 3_600_000): Promise<string> {
  // openssl uses the CPU's SHA instructions (several times faster than coreutils' sha256sum); fall back when absent.
  const q = shellQuote(path);
  const r = await session.exec(`if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r ${q}; else sha256sum -- ${q}; fi`, timeoutMs, 4096);
  // No exit status: the connection dropped mid-command, which a reconnect can fix.
  if (r.code === null && !r.timedOut) throw new TransferInterrupted(`checksumming ${path} was interrupted`);
  const hex = /^([0-9a-f]{64})\s/.exec(r.stdout.toString('utf8'))?.[1];
  if (r.code !== 0 || !hex) throw new VastMcpError(`Could not checksum ${path} on the instance: ${r.stderr.toString('utf8').trim().slice(0, 300) || 'no sha256sum output'}`, 'copy_failed');
  return hex;
}
