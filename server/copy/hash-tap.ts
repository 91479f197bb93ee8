import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';

/** A pass-through that hashes and counts every byte on its way. */
export class HashTap extends Transform {
  bytes = 0;

  constructor(
    readonly hash: Hash,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}
