import { execFile } from 'node:child_process';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
  writev,
} from 'node:fs';
import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import { localWriteError } from './transfer-errors.js';

export const PARTIAL_SUFFIX = '.vast-mcp-partial';
export const LOCK_SUFFIX = '.vast-mcp-lock';

/** Our own working names: a tree entry that looks like one is never written (it would collide). */
export function isWorkingName(name: string): boolean {
  return name.endsWith(PARTIAL_SUFFIX) || name.endsWith(LOCK_SUFFIX);
}

/**
 * Splits a path the instance sent (relative, `/`-separated) into segments, refusing anything that
 * could leave the destination: absolute names, empty, `.` or `..` segments, NUL, over-long names.
 */
export function safeSegments(rel: string): string[] {
  const segs = rel.split('/');
  const bad =
    rel.length === 0 ||
    rel.length > 4096 ||
    rel.startsWith('/') ||
    rel.includes('\0') ||
    segs.some((s) => s === '' || s === '.' || s === '..' || Buffer.byteLength(s) > 255);
  if (bad) {
    throw new VastMcpError(
      `The instance sent a path that would leave the destination or cannot be stored safely (${JSON.stringify(rel.slice(0, 120))}); nothing from it was written and the copy was stopped.`,
      'copy_unsafe_path',
    );
  }
  return segs;
}

function errno(e: unknown): NodeJS.ErrnoException {
  return e as NodeJS.ErrnoException;
}

/**
 * Local writes confined to a resolved root: every path component is checked to be a real directory
 * (never a symbolic link) when created, and again (realpath) right before each file is opened and
 * renamed, so a link planted during the copy cannot redirect a write. Files are opened O_EXCL|O_NOFOLLOW.
 */
export class LocalTree {
  private readonly made = new Set<string>();

  /** `root` must already be resolved (realpath) and trusted: the configured copy root. */
  constructor(readonly root: string) {}

  /** Creates (or checks) the directory at `segments` below the root, one component at a time. */
  dir(segments: string[]): string {
    let p = this.root;
    for (const seg of segments) {
      p = join(p, seg);
      if (this.made.has(p)) continue;
      try {
        const st = lstatSync(p);
        if (st.isSymbolicLink())
          throw new VastMcpError(
            `${p} is a symbolic link; copies never write through links (remove it or choose another local_path).`,
            'copy_unsafe_path',
          );
        if (!st.isDirectory()) throw new VastMcpError(`${p} exists and is not a directory; nothing was overwritten.`, 'copy_unsafe_path');
      } catch (e) {
        if (errno(e).code !== 'ENOENT') throw e;
        try {
          mkdirSync(p, { mode: 0o755 });
        } catch (m) {
          if (errno(m).code !== 'EEXIST') throw localWriteError(p, errno(m));
        }
        if (!lstatSync(p).isDirectory()) throw new VastMcpError(`${p} changed while it was being created; nothing was written.`, 'copy_unsafe_path');
      }
      this.made.add(p);
    }
    return p;
  }

  /** The directory still resolves to itself: no component was swapped for a link meanwhile. */
  checkUnchanged(dir: string): void {
    let real: string;
    try {
      real = realpathSync.native(dir);
    } catch {
      real = '';
    }
    if (real !== dir)
      throw new VastMcpError(
        `${dir} no longer resolves to itself (a link was planted during the copy); nothing more was written there.`,
        'copy_unsafe_path',
      );
  }

  /** Opens a fresh partial file for `name` in `dir` (removing a stale one first). */
  openPartial(dir: string, name: string): { fd: number; partial: string; final: string } {
    this.checkUnchanged(dir);
    const partial = join(dir, `.${name}${PARTIAL_SUFFIX}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    // A stale partial (an earlier attempt's) is removed and the file started afresh: never appended to.
    for (let tries = 0; ; tries++) {
      try {
        return { fd: openSync(partial, flags, 0o600), partial, final: join(dir, name) };
      } catch (e) {
        if (errno(e).code !== 'EEXIST' || tries > 0) throw localWriteError(partial, errno(e));
        try {
          unlinkSync(partial);
        } catch (u) {
          if (errno(u).code !== 'ENOENT') throw localWriteError(partial, errno(u));
        }
      }
    }
  }
}

/** Writes all of `buf` at `pos` (or the current offset); any short write that makes no progress is an error. */
export function writeAll(fd: number, buf: Buffer, path: string, pos: number | null = null): void {
  let off = 0;
  while (off < buf.length) {
    let n: number;
    try {
      n = writeSync(fd, buf, off, buf.length - off, pos === null ? null : pos + off);
    } catch (e) {
      throw localWriteError(path, errno(e));
    }
    if (n <= 0) throw localWriteError(path, Object.assign(new Error('short write'), { code: 'ENOSPC' }));
    off += n;
  }
}

/**
 * Writes all of `bufs` at `pos` without blocking the event loop: a disk that is busy flushing stalls
 * only this write, not the decryption of what the network is still delivering.
 */
export async function writeAllAt(fd: number, bufs: Buffer[], path: string, pos: number): Promise<void> {
  let rest = bufs;
  let at = pos;
  while (rest.length) {
    let n: number;
    try {
      n = await new Promise<number>((ok, fail) => writev(fd, rest, at, (e, written) => (e ? fail(e) : ok(written))));
    } catch (e) {
      throw localWriteError(path, errno(e));
    }
    if (n <= 0) throw localWriteError(path, Object.assign(new Error('short write'), { code: 'ENOSPC' }));
    at += n;
    // Drop what was written; a partly written buffer continues from where it stopped.
    const next: Buffer[] = [];
    let skip = n;
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** Closes a written file after checking that it holds exactly `size` bytes. */
export function closeChecked(fd: number, path: string, size: number): void {
  try {
    const have = fstatSync(fd).size;
    if (have !== size) throw localWriteError(path, Object.assign(new Error(`holds ${have} of ${size} bytes`), { code: 'ENOSPC' }));
  } finally {
    closeSync(fd);
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/**
 * One durability barrier for a batch of files: syncfs(2) of their file system through coreutils'
 * `sync -f`, or fsync file by file where that is not available. Errors (EIO, ENOSPC at writeback) fail the batch.
 */
export async function durabilityBarrier(anyDir: string, files: string[]): Promise<void> {
  const viaSyncfs = await new Promise<boolean>((resolve) => execFile('sync', ['-f', anyDir], { timeout: 120_000 }, (e) => resolve(!e)));
  if (viaSyncfs) return;
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      fsyncSync(fd);
    } catch (e) {
      throw localWriteError(f, errno(e));
    } finally {
      closeSync(fd);
    }
  }
}

/** Renames verified partials to their final names, then fsyncs each directory once. */
export function promoteAll(tree: LocalTree, items: { partial: string; final: string; dir: string }[]): void {
  const dirs = new Set<string>();
  for (const it of items) {
    tree.checkUnchanged(it.dir);
    renameSync(it.partial, it.final);
    dirs.add(it.dir);
  }
  for (const d of dirs) {
    const fd = openSync(d, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
