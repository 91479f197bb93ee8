import { remoteSyncFragment } from './remote-sync.js';
import { createReadStream } from 'node:fs';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { remotePrefixSha256 } from './remote-files.js';
import { localFileSha256 } from './tree-digest.js';
import { TransferInterrupted } from './transfer-errors.js';
import { createHash } from 'node:crypto';

export const localSha256 = localFileSha256;

export function remotePartial(finalPath: string): string {
  const i = finalPath.lastIndexOf('/');
  return `${finalPath.slice(0, i + 1)}.${finalPath.slice(i + 1)}.vast-mcp-partial`;
}

async function localPrefixSha256(path: string, len: number): Promise<string> {
  const h = createHash('sha256');
  if (len > 0) for await (const c of createReadStream(path, { start: 0, end: len - 1, highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Sends a local file to `finalPath` on the instance through a partial file and returns the partial's
 * path; the caller verifies before moving it into place. An earlier partial is resumed only when the
 * instance confirms its bytes are a prefix of the local file; otherwise it is started afresh.
 */
export async function uploadToPartial(
  session: SshSession,
  localPath: string,
  size: number,
  finalPath: string,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<{ partial: string; resumedFrom: number }> {
  const partial = remotePartial(finalPath);
  const dir = finalPath.slice(0, finalPath.lastIndexOf('/')) || '/';
  const probe = await session.exec(`mkdir -p -- ${shellQuote(dir)} && (stat -c %s -- ${shellQuote(partial)} 2>/dev/null || echo 0)`, 60_000, 1024);
  let offset = Number(probe.stdout.toString('utf8').trim()) || 0;
  if (offset > 0 && (offset > size || (await remotePrefixSha256(session, partial, offset)) !== (await localPrefixSha256(localPath, offset))))
    offset = 0;
  onBytes(offset);
  // `>` truncates (a fresh start), `>>` appends to the prefix just checked.
  const ch = await session.channel(`cat ${offset > 0 ? '>>' : '>'} ${shellQuote(partial)}`, undefined, {
    progress: { ...DEFAULT_PROGRESS_RULE, direction: 'out' },
  });
  let exitCode: number | null = null;
  ch.on('exit', (code: number | null) => (exitCode = code));
  // Drain the remote output, or the channel never ends and never closes.
  ch.resume();
  ch.stderr.resume();
  const src = createReadStream(localPath, { start: offset, end: size > offset ? size - 1 : offset, highWaterMark: 1 << 18 });
  if (size <= offset) src.destroy();
  src.on('data', (c) => onBytes((c as Buffer).length));
  const onAbort = () => ch.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  // Wait for the channel to close (the remote cat exited), not for 'finish' of its writable side.
  await new Promise<void>((resolve, reject) => {
    src.on('error', (e) => reject(new TransferInterrupted(`reading ${localPath} failed (${e.message})`)));
    ch.on('error', (e: Error) => reject(new TransferInterrupted(`upload of ${localPath} was interrupted (${e.message})`)));
    ch.on('close', () => resolve());
    if (size <= offset) ch.end();
    else src.pipe(ch);
  }).finally(() => signal?.removeEventListener('abort', onAbort));
  if (exitCode !== 0) throw new TransferInterrupted(`upload of ${localPath} ended with exit code ${String(exitCode)}`);
  return { partial, resumedFrom: offset };
}

export async function promoteRemote(session: SshSession, partial: string, finalPath: string): Promise<void> {
  const r = await session.exec(
    `mv -f -- ${shellQuote(partial)} ${shellQuote(finalPath)} && ${remoteSyncFragment(shellQuote(finalPath))}`,
    120_000,
    4096,
  );
  if (r.code !== 0) throw new Error(`could not move ${partial} into place: ${r.stderr.toString('utf8').trim()}`);
}

export async function removeRemote(session: SshSession, path: string): Promise<void> {
  await session.exec(`rm -f -- ${shellQuote(path)}`, 60_000, 1024).catch(() => undefined);
}
