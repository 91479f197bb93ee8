import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { TransferInterrupted } from './download.js';

export async function localSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function remotePartial(finalPath: string): string {
  const i = finalPath.lastIndexOf('/');
  return `${finalPath.slice(0, i + 1)}.${finalPath.slice(i + 1)}.vast-mcp-partial`;
}

/**
 * Sends a local file to `finalPath` on the instance through a partial file, resuming from what is
 * already there, and returns the partial's path; the caller verifies before moving it into place.
 */
export async function uploadToPartial(session: SshSession, localPath: string, size: number, finalPath: string, onBytes: (n: number) => void): Promise<string> {
  const partial = remotePartial(finalPath);
  const dir = finalPath.slice(0, finalPath.lastIndexOf('/')) || '/';
  const probe = await session.exec(`mkdir -p -- ${shellQuote(dir)} && (stat -c %s -- ${shellQuote(partial)} 2>/dev/null || echo 0)`, 60_000, 1024);
  let offset = Number(probe.stdout.toString('utf8').trim()) || 0;
  if (offset > size) {
    await session.exec(`rm -f -- ${shellQuote(partial)}`, 60_000, 1024);
    offset = 0;
  }
  onBytes(offset);
  if (offset < size) {
    const ch = await session.channel(`cat >> ${shellQuote(partial)}`, undefined, { progress: { ...DEFAULT_PROGRESS_RULE, direction: 'out' } });
    let exitCode: number | null = null;
    ch.on('exit', (code: number | null) => (exitCode = code));
    // Drain the remote output, or the channel never ends and never closes.
    ch.resume();
    ch.stderr.resume();
    const src = createReadStream(localPath, { start: offset, highWaterMark: 1 << 18 });
    src.on('data', (c) => onBytes((c as Buffer).length));
    // Wait for the channel to close (the remote cat exited), not for 'finish' of its writable side.
    await new Promise<void>((resolve, reject) => {
      src.on('error', (e) => reject(new TransferInterrupted(`reading ${localPath} failed (${e.message})`)));
      ch.on('error', (e: Error) => reject(new TransferInterrupted(`upload of ${localPath} was interrupted (${e.message})`)));
      ch.on('close', () => resolve());
      src.pipe(ch);
    });
    if (exitCode !== 0) throw new TransferInterrupted(`upload of ${localPath} ended with exit code ${String(exitCode)}`);
  } else {
    await session.exec(`touch -- ${shellQuote(partial)}`, 60_000, 1024);
  }
  return partial;
}

export async function promoteRemote(session: SshSession, partial: string, finalPath: string): Promise<void> {
  const r = await session.exec(`mv -f -- ${shellQuote(partial)} ${shellQuote(finalPath)} && sync`, 120_000, 4096);
  if (r.code !== 0) throw new Error(`could not move ${partial} into place: ${r.stderr.toString('utf8').trim()}`);
}

export async function removeRemote(session: SshSession, path: string): Promise<void> {
  await session.exec(`rm -f -- ${shellQuote(path)}`, 60_000, 1024).catch(() => undefined);
}
