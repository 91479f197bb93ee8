import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { ClientChannel } from 'ssh2';
import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import type { LocalFile } from './local-walk.js';
import { dirHeader, END_OF_ARCHIVE, fileHeader, padding } from './tar-writer.js';
import { TransferInterrupted } from './transfer-errors.js';

const CHUNK = 1 << 20;

function write(ch: ClientChannel, buf: Buffer): Promise<void> | null {
  return ch.write(buf) ? null : new Promise((ok) => ch.once('drain', ok));
}

/** Small pieces (headers, small files, padding) travel together: each channel write is an SSH packet of its own. */
const BATCH = 256 * 1024;

function batcher(ch: ClientChannel): { send(buf: Buffer): Promise<void> | null; flush(): Promise<void> | null } {
  let parts: Buffer[] = [];
  let bytes = 0;
  const flush = () => {
    if (!bytes) return null;
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
    parts = [];
    bytes = 0;
    return write(ch, all);
  };
  return {
    send(buf: Buffer) {
      parts.push(buf);
      bytes += buf.length;
      return bytes >= BATCH ? flush() : null;
    },
    flush,
  };
}

/** Streams the files as one tar archive, hashing exactly the bytes sent; the expected checksums travel last, as one more member. */
async function streamTar(
  ch: ClientChannel,
  files: LocalFile[],
  dirs: string[],
  manifestName: string,
  onBytes: (n: number, label: string) => void,
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const sent = new Map<string, string>();
  const buf = Buffer.allocUnsafe(CHUNK);
  const { send, flush } = batcher(ch);
  for (const d of dirs) await send(dirHeader(d));
  for (const f of files) {
    if (signal?.aborted) throw new TransferInterrupted('cancelled');
    await send(fileHeader(f.rel, f.size, f.mode || 0o644, f.mtime));
    const h = createHash('sha256');
    const fd = openSync(f.path, 'r');
    try {
      for (let at = 0; at < f.size; ) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, f.size - at), at);
        if (n <= 0)
          throw new VastMcpError(
            `${f.path} shrank while it was being uploaded; nothing was moved into place on the instance. Upload it again once it is no longer being written.`,
            'copy_source_changed',
          );
        const part = Buffer.from(buf.subarray(0, n));
        h.update(part);
        at += n;
        onBytes(n, f.rel);
        await send(part);
      }
    } finally {
      closeSync(fd);
    }
    const pad = padding(f.size);
    if (pad) await send(Buffer.alloc(pad));
    sent.set(f.rel, h.digest('hex'));
  }
  const manifest = Buffer.from(files.map((f) => `${sent.get(f.rel)}  ./${f.rel}\0`).join(''), 'utf8');
  await send(fileHeader(manifestName, manifest.length));
  await send(manifest);
  await send(Buffer.alloc(padding(manifest.length)));
  await send(END_OF_ARCHIVE);
  await flush();
  return sent;
}

/**
 * local → instance for a directory, in one remote command: the tar stream is extracted into a
 * staging directory beside the destination; the instance hashes every staged file and compares
 * the sorted list with the checksums we sent (the archive's last member); only if they are equal is
 * the staging directory linked into place (GNU `cp -al`: the verified inodes themselves) and removed.
 * The instance's checksums come back and are compared here as well. One durability barrier for the
 * whole batch: a sync of the destination's file system (`sync -f`), all of it only where that is missing.
 */
export async function uploadTree(
  conn: CopyConnection,
  files: LocalFile[],
  dirs: string[],
  remoteDir: string,
  onBytes: (n: number, label: string) => void,
): Promise<{ sha: Map<string, string>; attempts: number }> {
  const dest = remoteDir.replace(/\/+$/, '');
  const slash = dest.lastIndexOf('/');
  const stage = `${dest.slice(0, slash + 1)}.${dest.slice(slash + 1)}.vast-mcp-partial`;
  const r = await withRetries(conn, `Upload to ${remoteDir}`, async (s: SshSession) => {
    const m = `.vast-mcp-expected-${randomBytes(6).toString('hex')}`;
    const script = [
      `S=${shellQuote(stage)}; D=${shellQuote(dest)}; M=${shellQuote(m)}`,
      // Never extract over a stale staging area: start it afresh on every attempt.
      'rm -rf -- "$S" && mkdir -p -- "$S" && cd -- "$S" && tar -xf - --no-same-owner || exit 10',
      'mv -- "$M" "$S.expected" || exit 11',
      "printf '' | sha256sum -z >/dev/null 2>&1 || exit 13",
      'find . -type f -print0 | xargs -0 -r sha256sum -z -- | sort -z > "$S.actual" || exit 14',
      'sort -z "$S.expected" > "$S.sorted" || exit 14',
      'cat "$S.actual"',
      'if cmp -s "$S.sorted" "$S.actual"; then rc=0; cd / && { if [ -e "$D" ]; then cp -al --remove-destination -- "$S/." "$D/" && rm -rf -- "$S"; else mv -- "$S" "$D"; fi; } && { sync -f -- "$D" 2>/dev/null || sync; } || rc=15; else rc=12; rm -rf -- "$S"; fi',
      'rm -f -- "$S.expected" "$S.sorted" "$S.actual"; exit $rc',
    ].join('\n');
    const ch = await s.channel(script);
    let code: number | null = null;
    let err = '';
    let out: Buffer[] = [];
    ch.on('exit', (c: number | null) => (code = c));
    ch.stderr.on('data', (d: Buffer) => (err += d.toString('utf8').slice(0, 1000)));
    ch.on('data', (d: Buffer) => out.push(d));
    const closed = new Promise<void>((ok) =>
      ch.on('close', (c?: number | null) => {
        if (code === null && typeof c === 'number') code = c;
        ok();
      }),
    );
    const onAbort = () => ch.close();
    conn.signal?.addEventListener('abort', onAbort, { once: true });
    let sent: Map<string, string>;
    try {
      sent = await Promise.race([
        streamTar(ch, files, dirs, m, onBytes, conn.signal),
        closed.then(() => {
          throw new TransferInterrupted('the instance closed the upload stream early');
        }),
      ]);
      ch.end();
      await closed;
    } finally {
      conn.signal?.removeEventListener('abort', onAbort);
    }
    if (code === null) throw new TransferInterrupted('the upload stream was cut');
    const staged = new Map<string, string>();
    for (const rec of Buffer.concat(out).toString('utf8').split('\0')) {
      const hit = /^([0-9a-f]{64}) [ *]\.\/([\s\S]+)$/.exec(rec);
      if (hit) staged.set(hit[2]!, hit[1]!);
    }
    out = [];
    const bad = files.find((f) => staged.get(f.rel) !== sent.get(f.rel));
    if (code === 12 || (code === 0 && bad)) {
      const f = bad ?? files[0]!;
      throw new VastMcpError(
        `Verification failed for ${f.rel}: sha256 on the instance ${(staged.get(f.rel) ?? 'missing').slice(0, 12)}… ≠ sent ${sent.get(f.rel)!.slice(0, 12)}…. ${code === 12 ? 'The staged upload was removed; nothing was moved into place.' : 'The instance reported checksums that differ from those it accepted.'}`,
        'copy_verification_failed',
      );
    }
    if (code !== 0) {
      const what =
        {
          10: 'extracting the upload',
          11: 'reading the expected checksums',
          13: 'checksumming (sha256sum --zero is missing: coreutils 8.30 or later is needed)',
          14: 'checksumming',
          15: 'moving the verified upload into place',
        }[code] ?? 'the upload';
      throw new VastMcpError(`On the instance, ${what} failed (exit ${code}: ${JSON.stringify(err.trim().slice(0, 300))}).`, 'copy_failed');
    }
    return sent;
  });
  return { sha: r.value, attempts: r.attempts };
}
