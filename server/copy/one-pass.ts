import type { ClientChannel } from 'ssh2';
import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { HashBoard } from './hash-board.js';
import { streamRecords } from './nul-records.js';
import { BIG_FILE, type TreeEntry, type TreeListing } from './remote-tree.js';
import { DEFAULT_PROGRESS_RULE } from '../ssh/progress-guard.js';

/** Prints `<sha256>  <name>\0` per file named in "$@" (openssl where present: several times faster). */
const PER_FILE =
  'for f do if command -v openssl >/dev/null 2>&1; then h=$(openssl dgst -sha256 -r < "$f") || exit 1; else h=$(sha256sum < "$f") || exit 1; fi; printf "%s  %s\\0" "${h%% *}" "$f"; done';

/**
 * The first contact with a path, with nothing local to resume from: two remote commands started
 * together, instead of three or four one after another. One lists the path (GNU find) and then
 * checksums every regular file (`sha256sum --zero` in bulk, openssl for big files); the other sends
 * the data (the file, or a tar stream of every regular file). Each decides for itself whether the
 * path is a file or a directory; a path that changes kind meanwhile fails verification. On a far host
 * every remote command costs a round trip and a process start: this pays for them once.
 */
export interface OnePass {
  listing: TreeListing;
  /** File: the whole file (`cat`); directory: a tar stream of every regular file (GNU find order). */
  data: ClientChannel;
  /** Keyed by path relative to the directory, or "" for a single file. */
  hashes: HashBoard;
}

export async function openOnePass(s: SshSession, remotePath: string, signal?: AbortSignal): Promise<OnePass> {
  // Timed now, while the connection is idle: a big file's stream count depends on it.
  void s.roundTripMs();
  const p = `p=${shellQuote(remotePath)};`;
  const small =
    `if printf '' | sha256sum -z >/dev/null 2>&1; then find . -type f -size -${BIG_FILE}c -print0 | xargs -0 -r sha256sum -z -- || exit 5; ` +
    `else find . -type f -size -${BIG_FILE}c -print0 | xargs -0 -r sh -c ${shellQuote(PER_FILE)} sh || exit 5; fi`;
  const big = `find . -type f -size +${BIG_FILE - 1}c -print0 | xargs -0 -r sh -c ${shellQuote(PER_FILE)} sh || exit 5`;
  // Records: kind (D/F/N), then listing records (L…), then E (the listing is complete), then checksums.
  const manifest =
    `${p} if [ -d "$p" ]; then cd -- "$p" || exit 3; printf 'D\\0'; find . -mindepth 1 -printf 'L%y %s %P\\0' || exit 4; printf 'E\\0'; ${small}; ${big}; ` +
    `elif [ -f "$p" ]; then printf 'F\\0'; printf 'L%s\\0' "$(stat -c %s -- "$p")"; printf 'E\\0'; sh -c ${shellQuote(PER_FILE)} sh "$p" || exit 5; else printf 'N\\0'; fi`;
  const data = `${p} if [ -d "$p" ]; then cd -- "$p" || exit 3; find . -type f -print0 | exec tar --hard-dereference --no-recursion --null -cf - -T -; else exec cat -- "$p"; fi`;

  const hashes = new HashBoard();
  const entries: TreeEntry[] = [];
  let kind: string | null = null;
  let fileSize: number | null = null;
  let listed!: () => void;
  let isListed = false;
  const listingDone = new Promise<void>((ok) => (listed = ok));
  const unreadable = (s: string) =>
    new VastMcpError(
      `The instance's file listing or checksums are unreadable (${JSON.stringify(s.slice(0, 80))}); nothing was copied.`,
      'copy_failed',
    );
  const run = streamRecords(
    s,
    manifest,
    (rec) => {
      const text = rec.toString('utf8');
      if (kind === null) {
        kind = text;
        return;
      }
      if (text.startsWith('L')) {
        if (kind === 'F') {
          fileSize = Number(text.slice(1));
          return;
        }
        const m = /^L([a-zA-Z]) (\d+) ([\s\S]+)$/.exec(text);
        if (!m) throw unreadable(text);
        entries.push({ type: m[1]!, size: Number(m[2]), rel: m[3]! });
        return;
      }
      if (text === 'E') {
        isListed = true;
        return listed();
      }
      const m = /^([0-9a-f]{64}) [ *]([\s\S]+)$/.exec(text);
      if (!m) throw unreadable(text);
      // A directory's names come as ./rel; a single file's as the path itself.
      if (m[2]!.startsWith('./')) hashes.set(m[2]!.slice(2), m[1]!);
      else if (m[2] === remotePath) hashes.set('', m[1]!);
      else throw unreadable(text);
    },
    undefined,
    signal,
  );
  const checked = run.then((r) => {
    if (kind === 'N')
      throw new VastMcpError(`${remotePath} does not exist on the instance (only /workspace and /root hold your files).`, 'copy_source_missing');
    if (r.code === 4 || r.code === 3 || kind === null) {
      throw new VastMcpError(
        `Listing ${remotePath} on the instance failed or was incomplete (exit ${r.code}: ${JSON.stringify(r.stderr.trim().slice(0, 300))}). Nothing was copied: a copy of part of a tree is not a copy of the tree. Fix the permissions or copy a sub-directory.`,
        'copy_failed',
      );
    }
    if (r.code !== 0)
      throw new VastMcpError(
        `Checksumming on the instance failed (exit ${r.code}: ${JSON.stringify(r.stderr.trim().slice(0, 300))}). Nothing was recorded.`,
        'copy_failed',
      );
  });
  hashes.follow(checked);
  const channel = s.channel(data, undefined, { progress: { ...DEFAULT_PROGRESS_RULE, direction: 'in' } });
  channel.catch(() => undefined);
  try {
    // The listing is complete at its end marker; a command that ends before it failed.
    await Promise.race([
      listingDone,
      checked.then(() => {
        if (!isListed)
          throw new VastMcpError(`The instance's listing of ${remotePath} ended without its end marker; nothing was copied.`, 'copy_failed');
      }),
    ]);
  } catch (e) {
    void channel.then(
      (c) => c.close(),
      () => undefined,
    );
    throw e;
  }
  const ch = await channel;
  ch.end();
  if (kind === 'F') {
    if (fileSize === null || !Number.isSafeInteger(fileSize))
      throw new VastMcpError(`Could not read the size of ${remotePath} on the instance.`, 'copy_failed');
    return { listing: { kind: 'file', size: fileSize }, data: ch, hashes };
  }
  return { listing: { kind: 'dir', entries }, data: ch, hashes };
}
