/**
 * Keeps the last `cap` bytes of a stream in one fixed buffer (a ring): each chunk costs its own length,
 * whatever the chunk size, so output trickling in one byte at a time stays cheap.
 */
export class TailBuffer {
  private readonly ring: Buffer;
  private start = 0;
  private length = 0;
  /** Every byte seen, kept or not. */
  total = 0;

  constructor(readonly cap: number) {
    this.ring = Buffer.alloc(Math.max(0, cap));
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const cap = this.ring.length;
    if (cap === 0) return;
    const data = chunk.length > cap ? chunk.subarray(chunk.length - cap) : chunk;
    let end = (this.start + this.length) % cap;
    const first = Math.min(data.length, cap - end);
    data.copy(this.ring, end, 0, first);
    if (first < data.length) data.copy(this.ring, 0, first);
    end = (end + data.length) % cap;
    const overflow = this.length + data.length - cap;
    if (overflow > 0) {
      this.start = (this.start + overflow) % cap;
      this.length = cap;
    } else {
      this.length += data.length;
    }
  }

  /** The kept bytes, oldest first. */
  bytes(): Buffer {
    const cap = this.ring.length;
    if (this.start + this.length <= cap) return Buffer.from(this.ring.subarray(this.start, this.start + this.length));
    return Buffer.concat([this.ring.subarray(this.start), this.ring.subarray(0, (this.start + this.length) % cap)]);
  }
}
