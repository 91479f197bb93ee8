import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { streamsFor } from '../../server/copy/stream-plan.js';
import { RangeWriter } from '../../server/copy/range-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'range-writer-'));

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) % 251;
  return b;
}

describe('RangeWriter', () => {
  it('writes every pushed byte at its offset, in order, with the source paused while both slabs are busy', async () => {
    const path = join(dir, 'a.bin');
    const fd = openSync(path, 'w+');
    const head = Buffer.from('HEAD');
    const body = pattern(300_000, 7);
    let written = 0;
    let resumed = 0;
    const w = new RangeWriter(
      fd,
      path,
      head.length,
      4096,
      (n) => (written += n),
      () => resumed++,
    );
    // The range starts after 4 bytes another range owns.
    writeSync(fd, head, 0, head.length, 0);
    let refused = 0;
    // Pieces of odd sizes, across slab boundaries, all pushed in one go: slabs fill faster than the disk takes them.
    for (let at = 0; at < body.length; ) {
      const n = Math.min(1 + ((at * 7) % 9000), body.length - at);
      if (!w.push(body.subarray(at, at + n))) refused++;
      at += n;
    }
    await w.finish();
    closeSync(fd);
    expect(refused).toBeGreaterThan(0);
    expect(resumed).toBeGreaterThan(0);
    expect(written).toBe(body.length);
    expect(readFileSync(path).equals(Buffer.concat([head, body]))).toBe(true);
  });

  /** Pushes `body` in pieces of odd sizes through a hashing writer; `yieldEvery` lets writes finish between pushes. */
  async function hashThrough(name: string, body: Buffer, slab: number, yieldEvery: number) {
    const path = join(dir, name);
    const fd = openSync(path, 'w+');
    const hash = createHash('sha256');
    const w = new RangeWriter(
      fd,
      path,
      0,
      slab,
      () => undefined,
      () => undefined,
      undefined,
      hash,
    );
    let refused = 0;
    for (let at = 0, k = 1; at < body.length; k++) {
      const n = Math.min(1 + ((at * 13) % 7000), body.length - at);
      if (!w.push(body.subarray(at, at + n))) refused++;
      at += n;
      if (yieldEvery && k % yieldEvery === 0) await new Promise((r) => setImmediate(r));
    }
    await w.finish();
    closeSync(fd);
    return { refused, digest: hash.digest('hex'), file: readFileSync(path) };
  }

  it('hashes every byte once, in file order, through slab boundaries and what waited while both slabs were busy', async () => {
    const body = pattern(250_001, 3);
    const r = await hashThrough('hashed.bin', body, 4096, 0);
    // Pieces were refused (kept aside), so the carried bytes went through the hash too.
    expect(r.refused).toBeGreaterThan(0);
    expect(r.digest).toBe(createHash('sha256').update(body).digest('hex'));
    expect(r.file.equals(body)).toBe(true);
  });

  it('hashes in file order too when writes finish between pushes', async () => {
    const body = pattern(180_007, 11);
    const r = await hashThrough('hashed-async.bin', body, 8192, 5);
    expect(r.digest).toBe(createHash('sha256').update(body).digest('hex'));
    expect(r.file.equals(body)).toBe(true);
  });

  it('keeps no reference to the buffers it was given', async () => {
    const path = join(dir, 'b.bin');
    const fd = openSync(path, 'w');
    const w = new RangeWriter(
      fd,
      path,
      0,
      1024,
      () => undefined,
      () => undefined,
    );
    const src = pattern(5000, 3);
    const expected = Buffer.from(src);
    w.push(src);
    // The caller's buffer is reused (as a network stack may): what was written must not change.
    src.fill(0);
    await w.finish();
    closeSync(fd);
    expect(readFileSync(path).equals(expected)).toBe(true);
  });

  it('fails with the write error and settles (no write left in flight)', async () => {
    const path = join(dir, 'c.bin');
    closeSync(openSync(path, 'w'));
    const fd = openSync(path, 'r');
    const w = new RangeWriter(
      fd,
      path,
      0,
      1024,
      () => undefined,
      () => undefined,
    );
    w.push(pattern(5000, 1));
    await expect(w.finish()).rejects.toThrow(/c\.bin/);
    expect(w.failed).not.toBeNull();
    closeSync(fd);
  });
});

describe('RangeWriter with the source paused', () => {
  it('reports a failed write at once, so a paused source can be stopped (a paused channel never closes)', async () => {
    const path = join(dir, 'd.bin');
    closeSync(openSync(path, 'w'));
    const fd = openSync(path, 'r');
    let failed: Error | null = null;
    const gotFailure = new Promise<void>((ok) => {
      const w = new RangeWriter(
        fd,
        path,
        0,
        1024,
        () => undefined,
        () => undefined,
        (e) => {
          failed = e;
          ok();
        },
      );
      // More than both slabs hold: the source is told to pause, and nobody calls finish().
      expect(w.push(pattern(3000, 5))).toBe(false);
    });
    await gotFailure;
    expect(String(failed)).toMatch(/d\.bin/);
    closeSync(fd);
  });
});

describe('streamsFor', () => {
  it.each([
    [0.2, 1],
    [2, 1],
    [10, 4],
    [100, 4],
    [null, 4],
  ])('a link of %s ms round trip gets %d stream(s)', (rtt, n) => {
    expect(streamsFor(rtt)).toBe(n);
  });
});
