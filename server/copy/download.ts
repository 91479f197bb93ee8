import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HashTap } from './hash-tap.js';
import { SyncingWriter } from './syncing-writer.js';
import { pipeline } from 'node:stream/promises';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';

export class TransferInterrupted extends Error {}

export function partialPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.vast-mcp-partial`);
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

export interface DownloadResult {
  bytes: number;
  resumedFrom: number;
  sha256: string;
  partialPath: string;
}

/**
 * Streams a remote file into `<dir>/.<name>.vast-mcp-partial`, hashing as it goes, resuming from
 * what an earlier attempt left there, then fsyncs. The caller renames it only after verification,
 * so nothing that looks complete ever exists before the checksums match.
 */
export async function downloadToPartial(session: SshSession, remotePath: string, remoteSize: number, finalPath: string, onBytes: (n: number) => void): Promise<DownloadResult> {
  mkdirSync(dirname(finalPath), { recursive: true });
  const partial = partialPathFor(finalPath);
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  if (offset > remoteSize) {
    unlinkSync(partial);
    offset = 0;
  }
  const hash = createHash('sha256');
  if (offset > 0) await hashFile(partial, hash);
  onBytes(offset);
  const cmd = offset > 0 ? `tail -c +${offset + 1} -- ${shellQuote(remotePath)}` : `cat -- ${shellQuote(remotePath)}`;
  const ch = await session.channel(cmd, undefined, { progress: { ...DEFAULT_PROGRESS_RULE, direction: 'in' } });
  let exitCode: number | null = null;
  ch.on('exit', (code: number | null) => (exitCode = code));
  ch.end();
  const tap = new HashTap(hash, onBytes);
  const fh = await open(partial, 'a', 0o600);
  try {
    await pipeline(ch, tap, new SyncingWriter(fh));
  } catch (e) {
    await fh.sync().catch(() => undefined);
    throw new TransferInterrupted(`transfer of ${remotePath} was interrupted after ${offset + tap.bytes} of ${remoteSize} bytes (${(e as Error).message})`);
  } finally {
    await fh.close();
  }
  await new Promise((r) => setImmediate(r));
  if (offset + tap.bytes !== remoteSize || (exitCode !== null && exitCode !== 0)) {
    throw new TransferInterrupted(`transfer of ${remotePath} stopped after ${offset + tap.bytes} of ${remoteSize} bytes`);
  }
  return { bytes: tap.bytes, resumedFrom: offset, sha256: hash.digest('hex'), partialPath: partial };
}

/** Makes a verified partial file final: rename over the destination, then fsync the directory. */
export async function promote(partial: string, finalPath: string): Promise<void> {
  await rename(partial, finalPath);
  const dir = await open(dirname(finalPath), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
