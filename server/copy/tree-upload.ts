import { randomBytes } from 'node:crypto';
import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import type { LocalFile } from './local-walk.js';
import { remoteSyncFragment } from './remote-sync.js';
import { streamTar } from './tar-stream.js';
import { TransferInterrupted } from './transfer-errors.js';

/**
 * local → instance for a directory, in one remote command: the tar stream is extracted into a
 * staging directory beside the destination; the instance hashes every staged file and compares
 * the sorted list with the checksums we sent (the archive's last member); only if they are equal is
 * the staging directory linked into place (GNU `cp -al`: the verified inodes themselves) and removed.
 * The instance's checksums come back and are compared here as well. One durability barrier for the
 * whole batch: a sync of the destination's file system (remote-sync.ts), whose failure fails the upload.
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
      'if cmp -s "$S.sorted" "$S.actual"; then rc=0; cd / && { if [ -e "$D" ]; then cp -al --remove-destination -- "$S/." "$D/" && rm -rf -- "$S"; else mv -- "$S" "$D"; fi; } || rc=15; else rc=12; rm -rf -- "$S"; fi',
      `if [ $rc = 0 ]; then ${remoteSyncFragment('"$D"')} || rc=16; fi`,
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
          16: 'making the upload durable (sync reported a write-back error; the files are in place but may not be on disk)',
        }[code] ?? 'the upload';
      throw new VastMcpError(`On the instance, ${what} failed (exit ${code}: ${JSON.stringify(err.trim().slice(0, 300))}).`, 'copy_failed');
    }
    return sent;
  });
  return { sha: r.value, attempts: r.attempts };
}
