/**
 * Builds tar headers for the upload stream (GNU format: ustar header, 'L' long-name records for
 * names over 100 bytes, base-256 sizes from 8 GiB), as GNU tar on the instance extracts them.
 * Layout: GNU tar manual, "Basic Tar Format".
 */

const BLOCK = 512;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(`${value.toString(8).padStart(len - 1, '0')}\0`, off, len, 'ascii');
}

function header(name: Buffer, size: number, type: string, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, Math.min(name.length, 100));
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (size < 8 ** 11) octal(h, 124, 12, size);
  else {
    h[124] = 0x80;
    let v = size;
    for (let i = 135; i > 124; i--) {
      h[i] = v % 256;
      v = Math.floor(v / 256);
    }
  }
  octal(h, 136, 12, Math.floor(mtime));
  h.write(type, 156, 1, 'ascii');
  h.write('ustar  \0', 257, 8, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** The header block(s) for a regular file `name` (relative, `/`-separated) of `size` bytes. */
export function fileHeader(name: string, size: number, mode = 0o644, mtime = Date.now() / 1000): Buffer {
  const raw = Buffer.from(name, 'utf8');
  if (raw.length <= 100) return header(raw, size, '0', mode, mtime);
  const body = Buffer.concat([raw, Buffer.alloc(1)]);
  const long = header(Buffer.from('././@LongLink'), body.length, 'L', 0o644, 0);
  return Buffer.concat([long, body, Buffer.alloc(padding(body.length)), header(raw.subarray(0, 100), size, '0', mode, mtime)]);
}

/** A directory entry (so that empty directories arrive too). */
export function dirHeader(name: string, mtime = Date.now() / 1000): Buffer {
  const raw = Buffer.from(name.endsWith('/') ? name : `${name}/`, 'utf8');
  if (raw.length <= 100) return header(raw, 0, '5', 0o755, mtime);
  const body = Buffer.concat([raw, Buffer.alloc(1)]);
  const long = header(Buffer.from('././@LongLink'), body.length, 'L', 0o644, 0);
  return Buffer.concat([long, body, Buffer.alloc(padding(body.length)), header(raw.subarray(0, 100), 0, '5', 0o755, mtime)]);
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
