import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * Writes a stream to a file and flushes it to disk as it goes (datasync every `syncEvery` bytes, in
 * the background), so the fsync that makes the file durable overlaps the transfer instead of
 * following it. `final` completes only after a full fsync.
 */
export class SyncingWriter extends Writable {
  private sinceSync = 0;
  private syncing: Promise<void> | null = null;

  constructor(
    private readonly fh: FileHandle,
    private readonly syncEvery = 64 * 1024 * 1024,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    const bufs = chunks.map((c) => c.chunk);
    this.fh.writev(bufs).then(
      (r) => {
        this.sinceSync += r.bytesWritten;
        if (this.sinceSync >= this.syncEvery && !this.syncing) {
          this.sinceSync = 0;
          this.syncing = this.fh.datasync().finally(() => (this.syncing = null));
        }
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    Promise.resolve(this.syncing)
      .then(() => this.fh.sync())
      .then(
        () => cb(),
        (e: Error) => cb(e),
      );
  }
}
