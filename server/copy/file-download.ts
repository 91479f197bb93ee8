import { createHash } from 'node:crypto';
import { closeSync, constants, fdatasync, fstatSync, fsync, ftruncateSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { ClientChannel } from 'ssh2';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import { PARTIAL_SUFFIX, promoteAll, writeAll, type LocalTree } from './local-tree.js';
import { remotePrefixSha256, remoteSha256 } from './remote-files.js';
import { localWriteError, TransferInterrupted } from './transfer-errors.js';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';

export interface FileDownload {
  sha256: string;
  resumedFrom: number;
  attempts: number;
  destination: string;
}

const MIB = 1024 * 1024;
/** Ranges big enough to amortise a channel; enough streams to fill a long fat link. */
export function planRanges(from: number, size: number, maxStreams: number): { start: number; len: number }[] {
  const left = size - from;
  const n = left >= 64 * MIB ? Math.max(1, Math.min(maxStreams, Math.ceil(left / (32 * MIB)))) : 1;
  const step = Math.ceil(left / n / MIB) * MIB || left;
  const out: { start: number; len: number }[] = [];
  for (let s = from; s < size; s += step) out.push({ start: s, len: Math.min(step, size - s) });
  return out.length ? out : [{ start: from, len: 0 }];
}

const fsyncP = (fd: number) => new Promise<void>((ok, fail) => fsync(fd, (e) => (e ? fail(e) : ok())));

async function localPrefixSha(path: string, len: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(MIB);
    for (let at = 0; at < len; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, len - at), at);
      if (bytesRead <= 0) break;
      h.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

/**
 * Copies one file off the instance into `dir/name`: parallel ranged streams written in place into a
 * partial file, the instance's sha256 computed concurrently, and our sha256 read back from the file
 * itself as its contiguous prefix grows (what is on disk, not what the network said). Resumes only
 * from a partial whose bytes the instance confirms to be a prefix of the file.
 */
export async function downloadFile(
  conn: CopyConnection,
  tree: LocalTree,
  remotePath: string,
  size: number,
  dir: string,
  name: string,
  onBytes: (n: number) => void,
  maxStreams = 4,
  first?: { data: ClientChannel; hash: Promise<string> },
): Promise<FileDownload> {
  const partial = join(dir, `.${name}${PARTIAL_SUFFIX}`);
  let resumedFrom = 0;
  let opened = first;
  const r = await withRetries(conn, `Download of ${remotePath}`, async (s) => {
    tree.checkUnchanged(dir);
    let have = 0;
    try {
      const st = lstatSync(partial);
      if (!st.isFile() || st.size > size) unlinkSync(partial);
      else have = st.size;
    } catch {
      /* no partial */
    }
    if (have > 0) {
      const [mine, theirs] = await Promise.all([localPrefixSha(partial, have), remotePrefixSha256(s, remotePath, have)]);
      if (mine !== theirs) {
        unlinkSync(partial);
        have = 0;
      }
    }
    resumedFrom = have;
    onBytes(have);
    const pre = opened;
    opened = undefined;
    if (pre && have > 0) pre.data.close();
    return transferInto(s, have, have === 0 ? pre : undefined);
  });

  async function transferInto(s: SshSession, have: number, pre?: { data: ClientChannel; hash: Promise<string> }): Promise<string> {
    let fd: number;
    try {
      fd = openSync(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw localWriteError(partial, e as NodeJS.ErrnoException);
    }
    const ranges = planRanges(have, size, maxStreams).map((x) => ({ ...x, done: 0 }));
    const watermark = () => {
      let w = have;
      for (const g of ranges) {
        w = g.start + g.done;
        if (g.done < g.len) break;
      }
      return w;
    };
    let stopped: Error | null = null;
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const remoteHash = pre ? pre.hash : remoteSha256(s, remotePath);
    // Observed at once: it may fail while the streams are still running (awaited below either way).
    remoteHash.catch(() => undefined);
    const hashing = (async () => {
      const h = createHash('sha256');
      const fh = await open(partial, 'r');
      const buf = Buffer.allocUnsafe(4 * MIB);
      try {
        for (let at = 0; at < size; ) {
          if (stopped) throw stopped;
          const limit = watermark();
          if (at >= limit) {
            await new Promise<void>((ok) => (wake = ok));
            continue;
          }
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - at), at);
          if (bytesRead <= 0) throw new TransferInterrupted(`${partial} is shorter than what was written`);
          h.update(buf.subarray(0, bytesRead));
          at += bytesRead;
        }
        return h.digest('hex');
      } finally {
        await fh.close();
      }
    })();
    hashing.catch(() => undefined);
    let sinceSync = 0;
    let syncing = false;
    const stream = async (g: (typeof ranges)[number], opened?: ClientChannel) => {
      // An opened channel streams the whole file: cut it at the end of its range when there are more.
      const cut = !!opened && g.len < size;
      if (g.len === 0) return void opened?.close();
      const q = shellQuote(remotePath);
      const cmd =
        g.start === 0 && g.len === size
          ? `cat -- ${q}`
          : g.start === 0
            ? `head -c ${g.len} -- ${q}`
            : `tail -c +${g.start + 1} -- ${q} | head -c ${g.len}`;
      const ch = opened ?? (await s.channel(cmd, undefined, { progress: { ...DEFAULT_PROGRESS_RULE, direction: 'in' } }));
      await new Promise<void>((resolve, reject) => {
        let code: number | null = null;
        const onAbort = () => ch.close();
        conn.signal?.addEventListener('abort', onAbort, { once: true });
        ch.on('exit', (c: number | null) => (code = c));
        ch.stderr.resume();
        ch.on('data', (chunk: Buffer) => {
          if (stopped || (cut && g.done === g.len)) return;
          const d = cut && g.done + chunk.length > g.len ? chunk.subarray(0, g.len - g.done) : chunk;
          if (g.done + d.length > g.len) {
            stopped = new TransferInterrupted(`${remotePath} grew while it was copied`);
            ch.close();
            return;
          }
          try {
            writeAll(fd, d, partial, g.start + g.done);
          } catch (e) {
            stopped = e as Error;
            ch.close();
            return;
          }
          g.done += d.length;
          onBytes(d.length);
          sinceSync += d.length;
          if (sinceSync >= 64 * MIB && !syncing) {
            // Flush in the background, so the final fsync has little left to do.
            sinceSync = 0;
            syncing = true;
            fdatasync(fd, () => (syncing = false));
          }
          poke();
          if (cut && g.done === g.len) ch.close();
        });
        ch.on('error', (e: Error) => (stopped ??= new TransferInterrupted(e.message)));
        ch.on('close', (closeCode?: number | null) => {
          // ssh2 repeats the exit status on close: an exit that came before we listened is not lost.
          if (code === null && typeof closeCode === 'number') code = closeCode;
          conn.signal?.removeEventListener('abort', onAbort);
          if (stopped) return reject(stopped);
          if (g.done !== g.len || (code !== 0 && !cut))
            return reject(new TransferInterrupted(`transfer of ${remotePath} stopped at ${g.start + g.done} of ${size} bytes`));
          resolve();
        });
        if (!opened) ch.end();
      });
    };
    try {
      await Promise.all(
        ranges.map((g, i) =>
          stream(g, i === 0 ? pre?.data : undefined).catch((e: Error) => {
            stopped ??= e;
            poke();
            throw e;
          }),
        ),
      );
      await fsyncP(fd);
      if (fstatSync(fd).size !== size) throw localWriteError(partial, Object.assign(new Error('short file'), { code: 'ENOSPC' }));
    } catch (e) {
      stopped ??= e as Error;
      poke();
      await hashing.catch(() => undefined);
      await remoteHash.catch(() => undefined);
      // Keep only the contiguous prefix: the next attempt checks it against the instance before use.
      try {
        ftruncateSync(fd, watermark());
      } catch {
        /* best effort */
      }
      closeSync(fd);
      if ((e as NodeJS.ErrnoException).code === 'copy_disk_full' || (e as { code?: string }).code === 'copy_failed') removeQuietlySync(partial);
      throw e;
    }
    closeSync(fd);
    const [mine, theirs] = await Promise.all([hashing, remoteHash]);
    if (mine !== theirs) {
      removeQuietlySync(partial);
      throw new VastMcpError(
        `Verification failed for ${remotePath}: received sha256 ${mine.slice(0, 12)}… ≠ ${theirs.slice(0, 12)}… on the instance. The partial file was deleted and nothing was recorded; copy again.`,
        'copy_verification_failed',
      );
    }
    return mine;
  }

  promoteAll(tree, [{ partial, final: join(dir, name), dir }]);
  return { sha256: r.value, resumedFrom, attempts: r.attempts, destination: join(dir, name) };
}

function removeQuietlySync(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    /* gone */
  }
}
