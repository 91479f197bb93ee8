import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { ClientChannel } from 'ssh2';
import { VastMcpError } from '../errors.js';
import type { LocalFile } from './local-walk.js';
import { dirHeader, END_OF_ARCHIVE, fileHeader, padding } from './tar-writer.js';
import { TransferInterrupted } from './transfer-errors.js';

/** Each channel write becomes SSH packets of its own: members travel packed into writes of this size. */
const PACKET = 256 * 1024;

/**
 * Fills a write buffer in place (headers, file bytes read straight into it, padding) and hands it to the
 * channel when full: no copy per file and no concatenation per write. A buffer given to the channel is
 * never touched again (ssh2 may hold it until the window opens); the next one is new.
 */
class Packer {
  private buf = Buffer.allocUnsafe(PACKET);
  private at = 0;

  constructor(private readonly ch: ClientChannel) {}

  get room(): number {
    return PACKET - this.at;
  }

  /** Copies `b` in, sending full buffers on the way. */
  async put(b: Buffer): Promise<void> {
    for (let off = 0; off < b.length; ) {
      if (!this.room) await this.flush();
      const n = b.copy(this.buf, this.at, off, Math.min(b.length, off + this.room));
      this.at += n;
      off += n;
    }
  }

  async zeros(count: number): Promise<void> {
    for (let left = count; left > 0; ) {
      if (!this.room) await this.flush();
      const n = Math.min(left, this.room);
      this.buf.fill(0, this.at, this.at + n);
      this.at += n;
      left -= n;
    }
  }

  /** Reads up to `max` bytes of `fd` at `pos` into the buffer; returns the bytes read and their view. */
  async readFrom(fd: number, pos: number, max: number): Promise<Buffer> {
    if (!this.room) await this.flush();
    const n = readSync(fd, this.buf, this.at, Math.min(max, this.room), pos);
    const view = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return view;
  }

  flush(): Promise<void> | undefined {
    if (!this.at) return undefined;
    const out = this.buf.subarray(0, this.at);
    this.buf = Buffer.allocUnsafe(PACKET);
    this.at = 0;
    return this.ch.write(out) ? undefined : new Promise((ok) => this.ch.once('drain', ok));
  }
}

/**
 * Streams the files as one tar archive, hashing exactly the bytes sent; the expected checksums travel last,
 * as one more member named `manifestName` (NUL-separated `sha256sum -z` lines). Returns what was sent.
 */
export async function streamTar(
  ch: ClientChannel,
  files: LocalFile[],
  dirs: string[],
  manifestName: string,
  onBytes: (n: number, label: string) => void,
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const sent = new Map<string, string>();
  const p = new Packer(ch);
  for (const d of dirs) await p.put(dirHeader(d));
  for (const f of files) {
    if (signal?.aborted) throw new TransferInterrupted('cancelled');
    await p.put(fileHeader(f.rel, f.size, f.mode || 0o644, f.mtime));
    const h = createHash('sha256');
    const fd = openSync(f.path, 'r');
    try {
      for (let at = 0; at < f.size; ) {
        const part = await p.readFrom(fd, at, f.size - at);
        if (!part.length)
          throw new VastMcpError(
            `${f.path} shrank while it was being uploaded; nothing was moved into place on the instance. Upload it again once it is no longer being written.`,
            'copy_source_changed',
          );
        h.update(part);
        at += part.length;
        onBytes(part.length, f.rel);
      }
    } finally {
      closeSync(fd);
    }
    await p.zeros(padding(f.size));
    sent.set(f.rel, h.digest('hex'));
  }
  const manifest = Buffer.from(files.map((f) => `${sent.get(f.rel)}  ./${f.rel}\0`).join(''), 'utf8');
  await p.put(fileHeader(manifestName, manifest.length));
  await p.put(manifest);
  await p.zeros(padding(manifest.length));
  await p.put(END_OF_ARCHIVE);
  await p.flush();
  return sent;
}
