import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarReader } from '../../server/copy/tar-reader.js';
import { END_OF_ARCHIVE, fileHeader, padding } from '../../server/copy/tar-writer.js';

function read(archive: Buffer, chunk = 777): { name: string; body: string }[] {
  const out: { name: string; body: string }[] = [];
  let cur: Buffer[] = [];
  let name = '';
  const r = new TarReader({
    begin: (n) => {
      name = n;
      cur = [];
    },
    data: (c) => cur.push(Buffer.from(c)),
    end: () => out.push({ name, body: Buffer.concat(cur).toString('utf8') }),
  });
  for (let i = 0; i < archive.length; i += chunk) r.write(archive.subarray(i, i + chunk));
  r.finish();
  return out;
}

function gnuTar(dir: string, names: string[], extra: string[] = []): Buffer {
  const r = spawnSync('tar', ['--hard-dereference', '--no-recursion', '--null', ...extra, '-cf', '-', '-T', '-'], {
    cwd: dir,
    input: Buffer.from(names.map((n) => `${n}\0`).join('')),
  });
  if (r.status !== 0) throw new Error(String(r.stderr));
  return r.stdout;
}

function ours(files: { name: string; body: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const b = Buffer.from(f.body);
    parts.push(fileHeader(f.name, b.length), b, Buffer.alloc(padding(b.length)));
  }
  return Buffer.concat([...parts, END_OF_ARCHIVE]);
}

describe('tar stream reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tar-reader-'));
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
  mkdirSync(join(dir, 'd'.repeat(120)));
  writeFileSync(join(dir, long), 'long');
  writeFileSync(join(dir, 'new\nline'), 'nl');
  writeFileSync(join(dir, 'empty'), '');
  symlinkSync('/etc/passwd', join(dir, 'link'));

  it.each([
    ['gnu', []],
    ['pax', ['--format=pax']],
    ['ustar', ['--format=ustar']],
  ] as const)('reads GNU tar output (%s format) in odd-sized chunks', (_f, extra) => {
    const names = extra[0] === '--format=ustar' ? ['./empty', './new\nline'] : ['./empty', `./${long}`, './new\nline'];
    const got = read(gnuTar(dir, names, [...extra]));
    expect(got.map((g) => g.name)).toEqual(names);
    expect(got.map((g) => g.body)).toEqual(names.map((n) => (n === './empty' ? '' : n.includes('line') ? 'nl' : 'long')));
  });

  it('reads what our own writer produces (long names included)', () => {
    const files = [
      { name: long, body: 'x'.repeat(1000) },
      { name: 'a', body: '' },
      { name: 'b/c', body: 'hello' },
    ];
    expect(read(ours(files), 100)).toEqual(files);
  });

  it.each([
    ['a symbolic link', ['./link'], /symbolic link/],
    ['a directory', ['./' + 'd'.repeat(120)], /directory/],
  ])('refuses %s in the stream', (_what, names, msg) => {
    expect(() => read(gnuTar(dir, names))).toThrow(msg);
  });

  it('refuses a hard link entry', () => {
    const h = fileHeader('x', 0);
    h.write('1', 156, 1, 'ascii');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    expect(() => read(Buffer.concat([h, END_OF_ARCHIVE]))).toThrow(/hard link/);
  });

  it('refuses a header whose checksum fails (a flipped byte)', () => {
    const a = ours([{ name: 'f', body: 'data' }]);
    a[10] = (a[10] ?? 0) ^ 0xff;
    expect(() => read(a)).toThrow(/checksum/);
  });

  it('refuses a stream cut inside a member or before its end marker', () => {
    const a = ours([{ name: 'f', body: 'x'.repeat(3000) }]);
    expect(() => read(a.subarray(0, 2000))).toThrow(/cut short/);
    expect(() => read(a.subarray(0, 512 + 3072))).toThrow(/cut short/);
  });
});
