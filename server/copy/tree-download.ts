import { createHash, type Hash } from 'node:crypto';
import { closeSync, lstatSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import { closeChecked, durabilityBarrier, isWorkingName, type LocalTree, promoteAll, removeQuietly, safeSegments, writeAll } from './local-tree.js';
import { hashTree, type TreeEntry } from './remote-tree.js';
import { HashBoard } from './hash-board.js';
import type { ClientChannel } from 'ssh2';
import { TarFormatError, TarReader } from './tar-reader.js';
import { localFileSha256, treeDigest } from './tree-digest.js';
import { TransferInterrupted } from './transfer-errors.js';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';

export interface TreeFile {
  rel: string;
  size: number;
  sha256: string;
  destination: string;
  /** Already there from an earlier (interrupted) copy, checked by hash and not sent again. */
  reused: boolean;
}

export interface TreeDownload {
  files: TreeFile[];
  skipped: { rel: string; reason: string }[];
  /** sha256 over (path, size, sha256) of every file, from the instance's checksums and from ours. */
  digestRemote: string;
  digestLocal: string;
  attempts: number;
}

const TYPES: Record<string, string> = {
  l: 'symbolic link (never followed)',
  b: 'block device',
  c: 'character device',
  p: 'FIFO',
  s: 'socket',
  D: 'door',
};
const BATCH_FILES = 2000;
const BATCH_BYTES = 256 * 1024 * 1024;

interface Pending {
  rel: string;
  size: number;
  sha: string;
  partial: string;
  final: string;
  dir: string;
}

/**
 * Copies a directory off the instance: one listing, one tar stream of the regular files (parsed
 * here, every member checked against the list asked for), the instance's checksums on parallel
 * channels, per-file partial names renamed only after their checksums match, one durability
 * barrier per batch. After an interruption the next attempt sends only what is not yet verified.
 */
export async function downloadTree(
  conn: CopyConnection,
  remoteDir: string,
  tree: LocalTree,
  target: string[],
  entries: TreeEntry[],
  onBytes: (n: number, label: string) => void,
  first?: { data: ClientChannel; hashes: HashBoard },
): Promise<TreeDownload> {
  const files: { rel: string; segs: string[]; size: number }[] = [];
  const skipped: { rel: string; reason: string }[] = [];
  const dirs: string[][] = [];
  for (const e of entries) {
    const segs = safeSegments(e.rel);
    if (segs.some(isWorkingName)) skipped.push({ rel: e.rel, reason: 'name reserved for partial files' });
    else if (e.type === 'd') dirs.push(segs);
    else if (e.type === 'f') files.push({ rel: e.rel, segs, size: e.size });
    else skipped.push({ rel: e.rel, reason: TYPES[e.type] ?? `file of type ${e.type}` });
  }
  tree.dir(target);
  for (const d of dirs) tree.dir([...target, ...d]);
  const finalOf = (f: { segs: string[] }) => join(tree.root, ...target, ...f.segs);
  const remote = new Map<string, string>();
  const verified = new Map<string, { sha: string; reused: boolean }>();
  let opened = first;

  const r = await withRetries(conn, `Copy of ${remoteDir}`, async (s) => {
    const todo = files.filter((f) => !verified.has(f.rel));
    if (opened) {
      // Fresh copy: the stream and the checksums were started together with the listing.
      const o = opened;
      opened = undefined;
      return transfer(s, todo, o);
    }
    // Resume: files already here at the right size count once their hash matches the instance's.
    const present = todo.filter((f) => {
      try {
        const st = lstatSync(finalOf(f));
        return st.isFile() && st.size === f.size;
      } catch {
        return false;
      }
    });
    if (present.length) {
      await hashTree(
        s,
        remoteDir,
        present.filter((f) => !remote.has(f.rel)),
        (rel, sha) => remote.set(rel, sha),
        conn.signal,
      );
      for (const f of present) {
        const sha = await localFileSha256(finalOf(f));
        if (sha === remote.get(f.rel)) {
          verified.set(f.rel, { sha, reused: true });
          onBytes(f.size, f.rel);
        }
      }
    }
    const send = todo.filter((f) => !verified.has(f.rel));
    if (send.length) await transfer(s, send);
  });

  async function transfer(s: SshSession, send: typeof files, pre?: { data: ClientChannel; hashes: HashBoard }): Promise<void> {
    let board: HashBoard;
    if (pre) board = pre.hashes;
    else {
      board = new HashBoard();
      const need = send.filter((f) => !remote.has(f.rel));
      for (const f of send) if (remote.has(f.rel)) board.set(f.rel, remote.get(f.rel)!);
      board.follow(hashTree(s, remoteDir, need, (rel, sha) => board.set(rel, sha), conn.signal));
    }
    const hashOf = async (rel: string) => {
      const sha = await board.wait(rel);
      remote.set(rel, sha);
      return sha;
    };
    const expected = new Map(send.map((f) => [f.rel, f]));
    const received = new Set<string>();

    const outstanding = new Set<string>();
    let batch: Pending[] = [];
    let batchBytes = 0;
    let chain: Promise<void> = Promise.resolve();
    let stopStream: (e: Error) => void = () => undefined;
    const commit = async (b: Pending[]) => {
      for (const p of b) {
        const want = await hashOf(p.rel);
        if (want !== p.sha) {
          throw new VastMcpError(
            `Verification failed for ${JSON.stringify(p.rel)}: received sha256 ${p.sha.slice(0, 12)}… ≠ ${want.slice(0, 12)}… on the instance. Its partial file was deleted and nothing was recorded for this directory; copy again.`,
            'copy_verification_failed',
          );
        }
      }
      await durabilityBarrier(
        tree.root,
        b.map((p) => p.partial),
      );
      promoteAll(tree, b);
      for (const p of b) {
        outstanding.delete(p.partial);
        verified.set(p.rel, { sha: p.sha, reused: false });
      }
    };
    const flush = () => {
      const b = batch;
      batch = [];
      batchBytes = 0;
      if (b.length) {
        chain = chain.then(() => commit(b));
        chain.catch((e: Error) => stopStream(e));
      }
    };

    let cur: { f: (typeof files)[number]; fd: number; partial: string; final: string; dir: string; hash: Hash; at: number } | null = null;
    let tarErr = '';
    const reader = new TarReader({
      begin(name, size) {
        const f = name.startsWith('./') ? expected.get(name.slice(2)) : undefined;
        if (!f || received.has(f.rel)) {
          throw new TarFormatError(
            `the tar stream holds ${JSON.stringify(name.slice(0, 120))}, which is not a file of the listing${f ? ' or came twice' : ''}${tarErr ? ` (tar said: ${JSON.stringify(tarErr.slice(0, 200))})` : ''}`,
          );
        }
        received.add(f.rel);
        if (size !== f.size)
          throw new VastMcpError(
            `${JSON.stringify(f.rel)} changed on the instance during the copy (${f.size} → ${size} bytes); nothing was recorded for this directory. Copy again once it is no longer being written.`,
            'copy_source_changed',
          );
        const dir = tree.dir([...target, ...f.segs.slice(0, -1)]);
        const opened = tree.openPartial(dir, f.segs.at(-1)!);
        outstanding.add(opened.partial);
        cur = { f, ...opened, dir, hash: createHash('sha256'), at: 0 };
      },
      data(chunk) {
        writeAll(cur!.fd, chunk, cur!.partial);
        cur!.hash.update(chunk);
        cur!.at += chunk.length;
        onBytes(chunk.length, cur!.f.rel);
      },
      end() {
        const c = cur!;
        cur = null;
        closeChecked(c.fd, c.partial, c.f.size);
        batch.push({ rel: c.f.rel, size: c.f.size, sha: c.hash.digest('hex'), partial: c.partial, final: c.final, dir: c.dir });
        batchBytes += c.f.size;
        if (batch.length >= BATCH_FILES || batchBytes >= BATCH_BYTES) flush();
      },
    });

    let ch: ClientChannel;
    if (pre) ch = pre.data;
    else {
      ch = await s.channel(`cd -- ${shellQuote(remoteDir)} || exit 3; exec tar --hard-dereference --no-recursion --null -cf - -T -`, undefined, {
        progress: { ...DEFAULT_PROGRESS_RULE, direction: 'in' },
      });
      ch.end(Buffer.concat(send.map((f) => Buffer.from(`./${f.rel}\0`, 'utf8'))));
    }
    try {
      await new Promise<void>((resolve, reject) => {
        let failed: Error | null = null;
        let code: number | null = null;
        const fail = (e: Error) => {
          failed ??= e;
          ch.close();
        };
        stopStream = fail;
        const onAbort = () => fail(new TransferInterrupted('cancelled'));
        conn.signal?.addEventListener('abort', onAbort, { once: true });
        ch.on('exit', (c: number | null) => (code = c));
        ch.stderr.on('data', (d: Buffer) => {
          if (tarErr.length < 2000) tarErr += d.toString('utf8');
        });
        ch.on('data', (d: Buffer) => {
          if (failed) return;
          try {
            reader.write(d);
          } catch (e) {
            fail(
              e instanceof TarFormatError
                ? new VastMcpError(
                    `The instance's tar stream was refused: ${e.message}. Nothing was recorded for this directory.`,
                    'copy_unsafe_stream',
                  )
                : (e as Error),
            );
          }
        });
        ch.on('error', (e: Error) => fail(new TransferInterrupted(e.message)));
        ch.on('close', (closeCode?: number | null) => {
          // ssh2 repeats the exit status on close: an exit that came before we listened is not lost.
          if (code === null && typeof closeCode === 'number') code = closeCode;
          conn.signal?.removeEventListener('abort', onAbort);
          if (failed) return reject(failed);
          if (code === null) return reject(new TransferInterrupted(`the tar stream was cut after ${received.size} of ${send.length} files`));
          try {
            reader.finish();
          } catch (e) {
            return reject(new TransferInterrupted((e as Error).message));
          }
          if (code !== 0 || received.size !== send.length) {
            return reject(
              new VastMcpError(
                `tar on the instance could not read every file, or the directory changed during the copy (exit ${code}, ${received.size} of ${send.length} files: ${JSON.stringify(tarErr.trim().slice(0, 300))}). Nothing was recorded for this directory.`,
                'copy_failed',
              ),
            );
          }
          resolve();
        });
      });
      flush();
      await chain;
    } catch (e) {
      // Any batch not yet committed is discarded: no partial survives to be appended to later.
      await chain.catch(() => undefined);
      const c = cur as { fd: number } | null;
      if (c) closeQuietly(c.fd);
      // Never unlink through a directory that was swapped for a link meanwhile.
      for (const p of outstanding) if (resolvesToItself(dirname(p))) removeQuietly(p);
      throw e;
    }
  }

  const out: TreeFile[] = files.map((f) => ({
    rel: f.rel,
    size: f.size,
    sha256: verified.get(f.rel)!.sha,
    destination: finalOf(f),
    reused: verified.get(f.rel)!.reused,
  }));
  return {
    files: out,
    skipped,
    digestRemote: treeDigest(files.map((f) => ({ rel: f.rel, size: f.size, sha256: remote.get(f.rel) ?? '' }))),
    digestLocal: treeDigest(out),
    attempts: r.attempts,
  };
}

function resolvesToItself(dir: string): boolean {
  try {
    return realpathSync.native(dir) === dir;
  } catch {
    return false;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* closed already */
  }
}
