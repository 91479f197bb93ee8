import { createHash } from 'node:crypto';
import { closeSync, constants, fdatasync, fstatSync, fsync, ftruncateSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { ClientChannel } from 'ssh2';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import { PARTIAL_SUFFIX, promoteAll, type LocalTree } from './local-tree.js';
import { RangeWriter } from './range-writer.js';
import { planRanges, streamsFor } from './stream-plan.js';
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
/** Bytes that may wait for the disk (all ranges together) before a channel is paused. */
const WRITE_QUEUE_BYTES = 4 * MIB;
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
 * Copies one file off the instance into `dir/name`: as many ranged streams as the link needs, written
 * in place into a partial file, the instance's sha256 computed concurrently. Our sha256 covers the
 * bytes handed to the file's writes (one stream from the start) or is read back from the file as its
 * contiguous prefix grows (several streams, a resumed prefix). Resumes only from a partial whose
 * bytes the instance confirms to be a prefix of the file.
 */
export async function downloadFile(
  conn: CopyConnection,
  tree: LocalTree,
  remotePath: string,
  size: number,
  dir: string,
  name: string,
  onBytes: (n: number) => void,
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
    // Timed when the connection was idle (the first pass), else now, before these streams start.
    const streams = size - have >= 64 * MIB ? streamsFor(await s.roundTripMs()) : 1;
    let fd: number;
    try {
      fd = openSync(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw localWriteError(partial, e as NodeJS.ErrnoException);
    }
    const ranges = planRanges(have, size, streams).map((x) => ({ ...x, done: 0 }));
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
    // One stream from the start arrives in order: its writer hashes each slab as it hands it to the
    // file's writes (each of which must succeed, at offsets that only grow), which spares reading the
    // file back.
    // Several streams, or a resumed prefix, are hashed from the file as its contiguous prefix grows.
    const inOrder = ranges.length === 1 && have === 0 ? createHash('sha256') : null;
    const slabBytes = Math.max(256 * 1024, WRITE_QUEUE_BYTES / 2 / ranges.length);
    const hashing: Promise<string | null> = inOrder
      ? Promise.resolve(null)
      : (async () => {
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
    let syncFailed: Error | null = null;
    const channels = new Set<ClientChannel>();
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
      channels.add(ch);
      if (stopped) {
        ch.close();
        throw stopped;
      }
      await new Promise<void>((resolve, reject) => {
        let code: number | null = null;
        // Bytes of this range taken from the channel; g.done counts those written to the file.
        let recv = 0;
        let closed = false;
        const writer = new RangeWriter(
          fd,
          partial,
          g.start,
          slabBytes,
          (n) => {
            g.done += n;
            onBytes(n);
            sinceSync += n;
            if (sinceSync >= 64 * MIB && !syncing) {
              // Flush in the background, so the final fsync has little left to do.
              sinceSync = 0;
              syncing = true;
              fdatasync(fd, (e) => {
                syncing = false;
                // Linux reports a lost write-back once: the final fsync would not see it again.
                if (e) syncFailed ??= localWriteError(partial, e);
              });
            }
            poke();
          },
          () => ch.resume(),
          (e) => {
            stopped ??= e;
            poke();
            ch.close();
            ch.resume();
          },
          inOrder,
        );
        const onAbort = () => ch.close();
        conn.signal?.addEventListener('abort', onAbort, { once: true });
        const settle = () => {
          if (stopped) return reject(stopped);
          if (g.done !== g.len || (code !== 0 && !cut))
            return reject(new TransferInterrupted(`transfer of ${remotePath} stopped at ${g.start + g.done} of ${size} bytes`));
          resolve();
        };
        ch.on('exit', (c: number | null) => (code = c));
        ch.stderr.resume();
        ch.on('data', (chunk: Buffer) => {
          if (stopped || (cut && recv === g.len)) return;
          const d = cut && recv + chunk.length > g.len ? chunk.subarray(0, g.len - recv) : chunk;
          if (recv + d.length > g.len) {
            stopped = new TransferInterrupted(`${remotePath} grew while it was copied`);
            ch.close();
            return;
          }
          recv += d.length;
          if (!writer.push(d)) ch.pause();
          if (writer.failed) {
            stopped ??= writer.failed;
            ch.close();
          }
          if (cut && recv === g.len) ch.close();
        });
        ch.on('error', (e: Error) => (stopped ??= new TransferInterrupted(e.message)));
        ch.on('close', (closeCode?: number | null) => {
          // ssh2 repeats the exit status on close: an exit that came before we listened is not lost.
          if (code === null && typeof closeCode === 'number') code = closeCode;
          conn.signal?.removeEventListener('abort', onAbort);
          if (closed) return;
          closed = true;
          writer.finish().then(settle, (e: Error) => {
            stopped ??= e;
            settle();
          });
        });
        if (!opened) ch.end();
      });
    };
    // Every range settles only once its writes have: the file is never closed under a write in flight.
    const runs = ranges.map((g, i) =>
      stream(g, i === 0 ? pre?.data : undefined).catch((e: Error) => {
        stopped ??= e;
        poke();
        for (const c of channels) {
          c.close();
          c.resume();
        }
        throw e;
      }),
    );
    try {
      await Promise.all(runs);
      await fsyncP(fd);
      if (syncFailed) throw syncFailed;
      if (fstatSync(fd).size !== size) throw localWriteError(partial, Object.assign(new Error('short file'), { code: 'ENOSPC' }));
    } catch (e) {
      stopped ??= e as Error;
      poke();
      // Paused channels are resumed too: a paused channel never reports its close.
      for (const c of channels) {
        c.close();
        c.resume();
      }
      await Promise.allSettled(runs);
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
    const [read, theirs] = await Promise.all([hashing, remoteHash]);
    const mine = inOrder ? inOrder.digest('hex') : read!;
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
