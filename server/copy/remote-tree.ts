import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { streamRecords } from './nul-records.js';
import { TransferInterrupted } from './transfer-errors.js';

export interface TreeEntry {
  /** Path relative to the copied directory, as the instance reported it (unchecked: hostile). */
  rel: string;
  /** find's %y: f file, d directory, l symlink, b/c devices, p FIFO, s socket. */
  type: string;
  size: number;
}

export type TreeListing = { kind: 'file'; size: number } | { kind: 'dir'; entries: TreeEntry[] };

/**
 * One remote command lists the whole tree: NUL-separated `type size path` records (GNU find -printf),
 * streamed and parsed as they arrive with no size cap. A listing that cannot be read completely
 * (find's non-zero exit, e.g. an unreadable sub-directory) fails the copy rather than shrinking it.
 */
export async function listTree(session: SshSession, remotePath: string, signal?: AbortSignal): Promise<TreeListing> {
  const cmd =
    `p=${shellQuote(remotePath)}; if [ -d "$p" ]; then cd -- "$p" || exit 3; printf 'D\\0'; find . -mindepth 1 -printf '%y %s %P\\0'; ` +
    `elif [ -f "$p" ]; then printf 'F\\0'; printf '%s\\0' "$(stat -c %s -- "$p")"; else printf 'N\\0'; fi`;
  let kind: string | null = null;
  let fileSize: number | null = null;
  const entries: TreeEntry[] = [];
  const r = await streamRecords(
    session,
    cmd,
    (rec) => {
      if (kind === null) {
        kind = rec.toString('latin1');
        return;
      }
      if (kind === 'F') {
        fileSize = Number(rec.toString('latin1'));
        return;
      }
      const s = rec.toString('utf8');
      const m = /^([a-zA-Z]) (\d+) ([\s\S]+)$/.exec(s);
      if (!m)
        throw new VastMcpError(
          `The instance's file listing has an unreadable record (${JSON.stringify(s.slice(0, 80))}); nothing was copied.`,
          'copy_failed',
        );
      entries.push({ type: m[1]!, size: Number(m[2]), rel: m[3]! });
    },
    undefined,
    signal,
  );
  if (kind === 'N')
    throw new VastMcpError(`${remotePath} does not exist on the instance (only /workspace and /root hold your files).`, 'copy_source_missing');
  if (r.code !== 0 || kind === null) {
    throw new VastMcpError(
      `Listing ${remotePath} on the instance failed or was incomplete (exit ${r.code}: ${r.stderr.trim().slice(0, 300) || 'no message'}). Nothing was copied: a copy of part of a tree is not a copy of the tree. Fix the permissions or copy a sub-directory.`,
      'copy_failed',
    );
  }
  if (kind === 'F') {
    if (fileSize === null || !Number.isSafeInteger(fileSize))
      throw new VastMcpError(`Could not read the size of ${remotePath} on the instance.`, 'copy_failed');
    return { kind: 'file', size: fileSize };
  }
  return { kind: 'dir', entries };
}

/** Files at least this big are hashed with openssl one by one (several times faster than coreutils here). */
export const BIG_FILE = 8 * 1024 * 1024;

const nulList = (names: string[]) => Buffer.concat(names.map((n) => Buffer.from(`./${n}\0`, 'utf8')));

/**
 * sha256 of many files below `dir`, computed on the instance: small files in bulk with
 * `sha256sum --zero` (one process per few thousand files, names unescaped), big ones with openssl.
 * The two run concurrently on separate channels; `onHash` fires as each digest arrives.
 */
export async function hashTree(
  session: SshSession,
  dir: string,
  files: { rel: string; size: number }[],
  onHash: (rel: string, sha: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const small = files.filter((f) => f.size < BIG_FILE).map((f) => f.rel);
  const big = files.filter((f) => f.size >= BIG_FILE).map((f) => f.rel);
  const q = shellQuote(dir);
  const runs: Promise<void>[] = [];
  if (small.length) {
    const wanted = new Set(small);
    const cmd = `cd -- ${q} || exit 3; if printf '' | sha256sum -z >/dev/null 2>&1; then exec xargs -0 -r sha256sum -z --; else exit 97; fi`;
    runs.push(
      streamRecords(
        session,
        cmd,
        (rec) => {
          const s = rec.toString('utf8');
          const m = /^([0-9a-f]{64}) [ *]\.\/([\s\S]+)$/.exec(s);
          if (!m || !wanted.has(m[2]!))
            throw new VastMcpError(
              `The instance's checksum output is unreadable (${JSON.stringify(s.slice(0, 80))}); nothing was recorded.`,
              'copy_failed',
            );
          onHash(m[2]!, m[1]!);
        },
        nulList(small),
        signal,
      ).then((r) => {
        if (r.code === 97) return hashOneByOne(session, q, small, onHash, signal);
        if (r.code !== 0)
          throw new VastMcpError(
            `Checksumming on the instance failed (exit ${r.code}: ${r.stderr.trim().slice(0, 300)}). Nothing was recorded.`,
            'copy_failed',
          );
      }),
    );
  }
  if (big.length) runs.push(hashOneByOne(session, q, big, onHash, signal));
  await Promise.all(runs);
}

/** One digest per file, in the order asked (names never appear in the output, so they cannot confuse it). */
async function hashOneByOne(
  session: SshSession,
  quotedDir: string,
  rels: string[],
  onHash: (rel: string, sha: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const script =
    'for f do if command -v openssl >/dev/null 2>&1; then h=$(openssl dgst -sha256 -r < "$f") || exit 1; else h=$(sha256sum < "$f") || exit 1; fi; printf "%s\\0" "${h%% *}"; done';
  let i = 0;
  const r = await streamRecords(
    session,
    `cd -- ${quotedDir} || exit 3; exec xargs -0 -r sh -c ${shellQuote(script)} sh`,
    (rec) => {
      const hex = rec.toString('latin1');
      if (!/^[0-9a-f]{64}$/.test(hex) || i >= rels.length)
        throw new VastMcpError('The instance returned an unreadable checksum; nothing was recorded.', 'copy_failed');
      onHash(rels[i++]!, hex);
    },
    nulList(rels),
    signal,
  );
  if (r.code !== 0)
    throw new VastMcpError(
      `Checksumming on the instance failed (exit ${r.code}: ${r.stderr.trim().slice(0, 300)}). Nothing was recorded.`,
      'copy_failed',
    );
  if (i !== rels.length) throw new TransferInterrupted(`checksums stopped after ${i} of ${rels.length} files`);
}
