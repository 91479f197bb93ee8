import { Transform, type TransformCallback } from 'node:stream';

/** A token bucket on a byte stream: at most `bytesPerSecond`, with a small burst allowance. */
export class Throttle extends Transform {
  private due = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly burstMs = 100,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const now = Date.now();
    this.due = Math.max(this.due, now - this.burstMs) + (chunk.length / this.bytesPerSecond) * 1000;
    const wait = this.due - now;
    if (wait > 1) setTimeout(() => cb(null, chunk), wait);
    else cb(null, chunk);
  }
}
