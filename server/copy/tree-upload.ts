import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { ClientChannel } from 'ssh2';
import { VastMcpError } from '../errors.js';
import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { withRetries, type CopyConnection } from './connection.js';
import type { LocalFile } from './local-walk.js';
import { hashTree } from './remote-tree.js';
import { END_OF_ARCHIVE, fileHeader, padding } from './tar-writer.js';
import { TransferInterrupted } from './transfer-errors.js';

const CHUNK = 1 << 20;

function send(ch: ClientChannel, buf: Buffer): Promise<void> | null {
  return ch.write(buf) ? null : new Promise((ok) => ch.once('drain', ok));
}

/** Streams the files as one tar archive into the channel, hashing exactly the bytes sent. */
async function streamTar(ch: ClientChannel, files: LocalFile[], onBytes: (n: number, label: string) => void, signal?: AbortSignal): Promise<Map<string, string>> {
  const sent = new Map<string, string>();
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const f of files) {
    if (signal?.aborted) throw new TransferInterrupted('cancelled');
    await send(ch, fileHeader(f.rel, f.size, f.mode || 0o644, f.mtime));
    const h = createHash('sha256');
    const fd = openSync(f.path, 'r');
    try {
      for (let at = 0; at < f.size; ) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, f.size - at), at);
        if (n <= 0) throw new VastMcpError(`${f.path} shrank while it was being uploaded; nothing was moved into place on the instance. Upload it again once it is no longer being written.`, 'copy_source_changed');
        const part = Buffer.from(buf.subarray(0, n));
        h.update(part);
        at += n;
        onBytes(n, f.rel);
        await send(ch, part);
      }
    } finally {
      closeSync(fd);
    }
    const pad = padding(f.size);
    if (pad) await send(ch, Buffer.alloc(pad));
    sent.set(f.rel, h.digest('hex'));
  }
  await send(ch, END_OF_ARCHIVE);
  return sent;
}

/**
 * local → instance for a directory: one tar stream extracted into a staging directory beside the
 * destination, every staged file hashed on the instance and compared with what was sent, and only
 * then linked into place (GNU `cp -al`: the verified inodes themselves) and the staging area removed.
 */
export async function uploadTree(conn: CopyConnection, files: LocalFile[], dirs: string[], remoteDir: string, onBytes: (n: number, label: string) => void): Promise<{ sha: Map<string, string>; attempts: number }> {
  const dest = remoteDir.replace(/\/+$/, '');
  const slash = dest.lastIndexOf('/');
  const stage = `${dest.slice(0, slash + 1)}.${dest.slice(slash + 1)}.vast-mcp-partial`;
  const qs = shellQuote(stage);
  const qd = shellQuote(dest);
  const r = await withRetries(conn, `Upload to ${remoteDir}`, async (s: SshSession) => {
    // Never extract over a stale staging area: start it afresh on every attempt.
    const ch = await s.channel(`rm -rf -- ${qs} && mkdir -p -- ${qs} && cd -- ${qs} && exec tar -xf - --no-same-owner`);
    let code: number | null = null;
    let err = '';
    ch.on('exit', (c: number | null) => (code = c));
    ch.stderr.on('data', (d: Buffer) => (err += d.toString('utf8').slice(0, 1000)));
    ch.resume();
    const closed = new Promise<void>((ok) => ch.on('close', () => ok()));
    const onAbort = () => ch.close();
    conn.signal?.addEventListener('abort', onAbort, { once: true });
    let sent: Map<string, string>;
    try {
      sent = await Promise.race([streamTar(ch, files, onBytes, conn.signal), closed.then(() => { throw new TransferInterrupted('the instance closed the upload stream early'); })]);
      ch.end();
      await closed;
    } finally {
      conn.signal?.removeEventListener('abort', onAbort);
    }
    if (code === null) throw new TransferInterrupted('the upload stream was cut');
    if (code !== 0) throw new VastMcpError(`Extracting the upload on the instance failed (exit ${code}: ${JSON.stringify(err.trim().slice(0, 300))}).`, 'copy_failed');
    const staged = new Map<string, string>();
    await hashTree(s, stage, files, (rel, sha) => staged.set(rel, sha), conn.signal);
    for (const f of files) {
      if (staged.get(f.rel) !== sent.get(f.rel)) {
        await s.exec(`rm -rf -- ${qs}`, 60_000, 1024).catch(() => undefined);
        throw new VastMcpError(`Verification failed for ${f.rel}: sha256 on the instance ${(staged.get(f.rel) ?? 'missing').slice(0, 12)}… ≠ sent ${sent.get(f.rel)!.slice(0, 12)}…. The staged upload was removed; nothing was moved into place.`, 'copy_verification_failed');
      }
    }
    const mk = dirs.length ? ` && cd -- ${qs} && mkdir -p ${dirs.map((d) => shellQuote(d)).join(' ')} && cd /` : '';
    const promote = `if [ -e ${qd} ]; then cp -al --remove-destination -- ${qs}/. ${qd}/ && rm -rf -- ${qs}; else mv -- ${qs} ${qd}; fi && sync`;
    const done = await s.exec(`true${mk} && ${promote}`, 600_000, 4096);
    if (done.code !== 0) throw new VastMcpError(`Moving the verified upload into ${remoteDir} failed: ${JSON.stringify(done.stderr.toString('utf8').trim().slice(0, 300))}. It is kept in ${stage}.`, 'copy_failed');
    return sent;
  });
  return { sha: r.value, attempts: r.attempts };
}
