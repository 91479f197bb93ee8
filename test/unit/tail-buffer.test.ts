import { describe, expect, it } from 'vitest';
import { TailBuffer } from '../../server/ssh/tail-buffer.js';
import { createRng } from '../../sim/rng.js';

describe('TailBuffer', () => {
  it('keeps exactly the last cap bytes for any chunking, one byte at a time included', () => {
    const rng = createRng('tail');
    for (const cap of [0, 1, 7, 64, 1000]) {
      for (let round = 0; round < 20; round++) {
        const t = new TailBuffer(cap);
        const all: Buffer[] = [];
        const n = rng.int(0, 40);
        for (let i = 0; i < n; i++) {
          const len = rng.chance(0.5) ? 1 : rng.int(0, 3 * cap + 3);
          const chunk = Buffer.from(Array.from({ length: len }, () => rng.int(0, 255)));
          all.push(chunk);
          t.push(chunk);
        }
        const whole = Buffer.concat(all);
        expect(t.total).toBe(whole.length);
        expect(t.bytes().equals(whole.subarray(Math.max(0, whole.length - cap)))).toBe(true);
      }
    }
  });

  it('takes 150 KB one byte at a time and keeps the 64 KiB tail', () => {
    const t = new TailBuffer(64 * 1024);
    for (let i = 0; i < 150_000; i++) t.push(Buffer.from([i % 251]));
    const b = t.bytes();
    expect(b.length).toBe(65536);
    expect(b[0]).toBe((150_000 - 65536) % 251);
    expect(b[b.length - 1]).toBe(149_999 % 251);
  });
});
