import type { Hash } from 'node:crypto';
import { writeAllAt } from './local-tree.js';

/**
 * Writes one range of a download to its file, in order, without blocking the event loop: what the
 * network delivers is copied into one of two slabs, and a full slab is written while the other
 * fills. The network's own buffers are let go at once (held across awaits, they outlive V8's young
 * generation and pile up until a full collection); a disk that stalls stalls only this range, whose
 * source is paused (`push` answers false) until a slab is free again.
 */
export class RangeWriter {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private filling: { buf: Buffer; len: number } | null = null;
  private readonly ready: { buf: Buffer; len: number }[] = [];
  private writing = false;
  /** What arrived while both slabs were busy. */
  private carry: Buffer | null = null;
  private finishing = false;
  private failure: Error | null = null;
  private settled: { ok: () => void; fail: (e: Error) => void } | null = null;

  /**
   * @param at file offset of the range's first byte
   * @param onWritten bytes now written, in order
   * @param onFree the source may resume (after `push` answered false)
   * @param onFail a write failed: stop the source (it may be paused, and a paused channel never closes)
   * @param hash takes every byte in order, a slab at a time as it is handed to its write: a few large
   *   updates cost less than one per network packet
   */
  constructor(
    private readonly fd: number,
    private readonly path: string,
    private at: number,
    private readonly slabBytes: number,
    private readonly onWritten: (n: number) => void,
    private readonly onFree: () => void,
    private readonly onFail: (e: Error) => void = () => undefined,
    private readonly hash: Hash | null = null,
  ) {}

  get failed(): Error | null {
    return this.failure;
  }

  /** Takes `d` in; false when it had to keep part of it: pause the source until `onFree`. */
  push(d: Buffer): boolean {
    if (this.failure) return true;
    if (this.carry) {
      this.carry = Buffer.concat([this.carry, d]);
      return false;
    }
    return this.absorb(d);
  }

  /** Resolves once every byte pushed is written; rejects with the first write error. */
  finish(): Promise<void> {
    this.finishing = true;
    return new Promise((ok, fail) => {
      this.settled = { ok, fail };
      this.pump();
    });
  }

  private absorb(d: Buffer): boolean {
    for (let off = 0; off < d.length; ) {
      if (!this.filling) {
        const buf = this.free.pop() ?? (this.allocated < 2 ? (this.allocated++, Buffer.allocUnsafe(this.slabBytes)) : null);
        if (!buf) {
          // A copy: the network's buffer must not be kept.
          this.carry = Buffer.from(d.subarray(off));
          this.pump();
          return false;
        }
        this.filling = { buf, len: 0 };
      }
      const f = this.filling;
      const n = d.copy(f.buf, f.len, off);
      f.len += n;
      off += n;
      if (f.len === f.buf.length) {
        this.ready.push(f);
        this.filling = null;
      }
    }
    this.pump();
    return true;
  }

  private pump(): void {
    if (this.writing || this.failure) return this.check();
    if (!this.ready.length && this.finishing && this.filling?.len && !this.carry) {
      this.ready.push(this.filling);
      this.filling = null;
    }
    const next = this.ready.shift();
    if (!next) return this.check();
    this.writing = true;
    this.hash?.update(next.buf.subarray(0, next.len));
    writeAllAt(this.fd, [next.buf.subarray(0, next.len)], this.path, this.at).then(
      () => {
        this.writing = false;
        this.at += next.len;
        this.free.push(next.buf);
        this.onWritten(next.len);
        if (this.carry) {
          const c = this.carry;
          this.carry = null;
          if (this.absorb(c)) this.onFree();
        }
        this.pump();
      },
      (e: Error) => {
        this.writing = false;
        this.failure = e;
        this.onFail(e);
        this.check();
      },
    );
  }

  private check(): void {
    if (!this.settled) return;
    if (this.failure) return this.settled.fail(this.failure);
    if (!this.writing && !this.ready.length && !this.carry && !this.filling?.len) this.settled.ok();
  }
}
