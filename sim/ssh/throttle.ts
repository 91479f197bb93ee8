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

/**
 * A one-way delay line: every chunk comes out `delayMs` after it went in, in order, without
 * slowing what follows it (a long link, not a slow one). What stays in flight is bounded by the
 * protocol above it (SSH's channel windows), exactly what makes a single stream slow on such a link.
 */
export class Delay extends Transform {
  private pending = 0;
  private flushed: (() => void) | null = null;

  constructor(private readonly delayMs: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending++;
    setTimeout(() => {
      this.push(chunk);
      if (--this.pending === 0) this.flushed?.();
    }, this.delayMs);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.pending === 0) return cb();
    this.flushed = () => cb();
  }
}

/** Optional shaping of the direct SSH endpoints (bench and tests): round-trip time and a bandwidth cap. */
export interface LinkShape {
  rttMs: number;
  bytesPerSecond: number | null;
}
