import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, realpathSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CopyConnection } from '../../server/copy/connection.js';
import { withDestinationLock } from '../../server/copy/dest-lock.js';
import { HashBoard } from '../../server/copy/hash-board.js';
import { LocalTree } from '../../server/copy/local-tree.js';
import { listTree } from '../../server/copy/remote-tree.js';
import { END_OF_ARCHIVE, fileHeader, padding } from '../../server/copy/tar-writer.js';
import { downloadTree } from '../../server/copy/tree-download.js';
import type { SshSession } from '../../server/ssh/ssh-session.js';

/** A scripted instance: each command answers with chunks (a function may run between them). */
type Script = (cmd: string, stdin: Buffer) => { out: (Buffer | (() => void))[]; code: number } | null;

class FakeChannel extends EventEmitter {
  stderr = new EventEmitter();
  private closed = false;
  constructor(private readonly run: (stdin: Buffer) => { out: (Buffer | (() => void))[]; code: number }) {
    super();
  }
  resume() {
    return this;
  }
  write() {
    return true;
  }
  end(stdin?: Buffer) {
    const { out, code } = this.run(stdin ?? Buffer.alloc(0));
    void (async () => {
      for (const o of out) {
        await new Promise((r) => setImmediate(r));
        if (this.closed) break;
        if (typeof o === 'function') o();
        else this.emit('data', o);
      }
      if (!this.closed) this.emit('exit', code);
      this.close();
    })();
    return this;
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => this.emit('close'));
  }
}

function fakeConn(script: Script): CopyConnection {
  const session = {
    channel: async (cmd: string) => {
      const ch = new FakeChannel((stdin) => script(cmd, stdin) ?? { out: [], code: 127 });
      return ch;
    },
  } as unknown as SshSession;
  return {
    session: async () => session,
    drop: () => undefined,
    signal: undefined,
    warnings: new Set(),
    endpoint: 'direct',
  } as unknown as CopyConnection;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tarOf(files: { name: string; body: Buffer }[]): Buffer[] {
  return files.map((f) => Buffer.concat([fileHeader(f.name, f.body.length), f.body, Buffer.alloc(padding(f.body.length))]));
}

/** An instance that lists `files`, hashes them honestly and sends `tar` (possibly something else). */
function instance(files: { rel: string; body: Buffer }[], tar: (Buffer | (() => void))[]): Script {
  return (cmd, stdin) => {
    if (cmd.includes('sha256sum -z')) {
      const names = stdin.toString('utf8').split('\0').filter(Boolean);
      return { out: names.map((n) => Buffer.from(`${sha(files.find((f) => `./${f.rel}` === n)!.body)}  ${n}\0`)), code: 0 };
    }
    if (cmd.includes('tar ')) return { out: [...tar, END_OF_ARCHIVE], code: 0 };
    return null;
  };
}

function setup() {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'hostile-root-')));
  const outside = mkdtempSync(join(tmpdir(), 'hostile-outside-'));
  return { root, outside, tree: new LocalTree(root) };
}

const everything = (dir: string) => readdirSync(dir, { recursive: true }) as string[];

describe('a hostile instance during a directory copy', () => {
  it('refuses a tar member that is not the file asked for (a path leaving the destination)', async () => {
    const { root, tree } = setup();
    const files = [{ rel: 'a.txt', body: Buffer.from('hello') }];
    const conn = fakeConn(instance(files, tarOf([{ name: '../../../tmp/evil.txt', body: Buffer.from('pwned') }])));
    await expect(downloadTree(conn, '/workspace/x', tree, ['dst'], [{ rel: 'a.txt', type: 'f', size: 5 }], () => undefined)).rejects.toThrow(
      /tar stream was refused.*evil/,
    );
    expect(everything(root)).toEqual(['dst']);
  });

  it.each(['../escape', '/etc/passwd', 'a/../../b', 'a//b', '.'])('refuses a listed path %j before writing anything', async (rel) => {
    const { root, tree } = setup();
    const conn = fakeConn(() => null);
    await expect(downloadTree(conn, '/workspace/x', tree, ['dst'], [{ rel, type: 'f', size: 1 }], () => undefined)).rejects.toThrow(
      /would leave the destination/,
    );
    expect(everything(root)).toEqual([]);
  });

  it('stops when a directory is swapped for a link in the middle of the copy', async () => {
    const { root, outside, tree } = setup();
    const files = [
      { rel: 'a/1', body: Buffer.from('one') },
      { rel: 'a/2', body: Buffer.from('two') },
    ];
    const [first, second] = tarOf(files.map((f) => ({ name: `./${f.rel}`, body: f.body })));
    const swap = () => {
      renameSync(join(root, 'dst/a'), join(root, 'dst/a-moved'));
      symlinkSync(outside, join(root, 'dst/a'));
    };
    const conn = fakeConn(instance(files, [first!, swap, second!]));
    const entries = [{ rel: 'a', type: 'd', size: 0 }, ...files.map((f) => ({ rel: f.rel, type: 'f', size: f.body.length }))];
    await expect(downloadTree(conn, '/workspace/x', tree, ['dst'], entries, () => undefined)).rejects.toThrow(/link was planted|symbolic link/);
    expect(readdirSync(outside)).toEqual([]);
    expect(everything(join(root, 'dst/a-moved')).filter((n) => !n.includes('partial'))).toEqual([]);
  });

  it('copies a well-behaved tree and proves it with equal digests', async () => {
    const { root, tree } = setup();
    const files = [
      { rel: 'x/1', body: Buffer.from('one') },
      { rel: 'y', body: Buffer.alloc(70_000, 3) },
    ];
    const conn = fakeConn(instance(files, tarOf(files.map((f) => ({ name: `./${f.rel}`, body: f.body })))));
    const out = await downloadTree(
      conn,
      '/workspace/x',
      tree,
      ['dst'],
      [{ rel: 'x', type: 'd', size: 0 }, ...files.map((f) => ({ rel: f.rel, type: 'f', size: f.body.length }))],
      () => undefined,
    );
    expect(out.digestLocal).toBe(out.digestRemote);
    expect(out.files.map((f) => f.sha256)).toEqual(files.map((f) => sha(f.body)));
    expect(everything(join(root, 'dst')).sort()).toEqual(['x', 'x/1', 'y']);
  });
});

describe('a hostile instance in a one-pass copy (stream started with the listing)', () => {
  function onePassStream(parts: Buffer[]) {
    const ch = new FakeChannel(() => ({ out: [...parts, END_OF_ARCHIVE], code: 0 }));
    return ch;
  }
  const board = (files: { rel: string; body: Buffer }[]) => {
    const b = new HashBoard();
    for (const f of files) b.set(f.rel, sha(f.body));
    b.close();
    return b;
  };

  it.each([
    [
      'a member the listing does not have',
      [
        { name: './a.txt', body: Buffer.from('hello') },
        { name: './extra', body: Buffer.from('x') },
      ],
      /not a file of the listing/,
    ],
    [
      'the same member twice',
      [
        { name: './a.txt', body: Buffer.from('hello') },
        { name: './a.txt', body: Buffer.from('hello') },
      ],
      /came twice/,
    ],
    ['a path that leaves the destination', [{ name: './../../a.txt', body: Buffer.from('hello') }], /not a file of the listing/],
  ])('refuses %s and records nothing', async (_what, members, msg) => {
    const { root, tree } = setup();
    const files = [{ rel: 'a.txt', body: Buffer.from('hello') }];
    const ch = onePassStream(tarOf(members));
    const conn = fakeConn(() => null);
    const p = downloadTree(conn, '/workspace/x', tree, ['dst'], [{ rel: 'a.txt', type: 'f', size: 5 }], () => undefined, {
      data: ch as never,
      hashes: board(files),
    });
    ch.end();
    await expect(p).rejects.toThrow(msg);
    expect(everything(root).filter((n) => !n.startsWith('dst'))).toEqual([]);
    expect(everything(root).filter((n) => n.includes('partial') || n.endsWith('a.txt'))).toEqual([]);
  });

  it('refuses a file whose checksum the instance never sent', async () => {
    const { tree } = setup();
    const files = [{ rel: 'a.txt', body: Buffer.from('hello') }];
    const ch = onePassStream(tarOf([{ name: './a.txt', body: files[0]!.body }]));
    const p = downloadTree(
      fakeConn(() => null),
      '/workspace/x',
      tree,
      ['dst'],
      [{ rel: 'a.txt', type: 'f', size: 5 }],
      () => undefined,
      { data: ch as never, hashes: board([]) },
    );
    ch.end();
    await expect(p).rejects.toThrow(/no checksum|failed after/);
    expect(everything(join(tree.root, 'dst'))).toEqual([]);
  });
});

describe('listing a huge tree', () => {
  it('keeps every record of a listing larger than 32 MiB', async () => {
    const n = 320_000;
    const rec = (i: number) => `f 4096 ${'p'.repeat(100)}/${String(i).padStart(8, '0')}\0`;
    const chunks: Buffer[] = [Buffer.from('D\0')];
    for (let i = 0; i < n; i += 10_000) chunks.push(Buffer.from(Array.from({ length: Math.min(10_000, n - i) }, (_, k) => rec(i + k)).join('')));
    const total = chunks.reduce((s, c) => s + c.length, 0);
    expect(total).toBeGreaterThan(32 * 1024 * 1024);
    const conn = fakeConn((cmd) => (cmd.includes('find .') ? { out: chunks, code: 0 } : null));
    const t = await listTree(await conn.session(), '/workspace/big');
    expect(t.kind).toBe('dir');
    if (t.kind !== 'dir') return;
    expect(t.entries).toHaveLength(n);
    expect(t.entries[0]!.rel.endsWith('/00000000')).toBe(true);
    expect(t.entries.at(-1)!.rel.endsWith(`/${String(n - 1).padStart(8, '0')}`)).toBe(true);
  });

  it('fails a listing that could not be read completely', async () => {
    const conn = fakeConn((cmd) => (cmd.includes('find .') ? { out: [Buffer.from('D\0f 1 a\0')], code: 1 } : null));
    await expect(listTree(await conn.session(), '/workspace/big')).rejects.toThrow(/failed or was incomplete/);
  });
});

describe('one copy per destination', () => {
  it("refuses a second copy to a destination while the first runs, and takes over a dead owner's lock", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    const dest = join(dir, 'file.bin');
    let release!: () => void;
    const first = withDestinationLock(dest, () => new Promise<void>((r) => (release = r)));
    await expect(withDestinationLock(dest, async () => 1)).rejects.toThrow(/still running/);
    release();
    await first;
    writeFileSync(join(dir, '.file.bin.vast-mcp-lock'), JSON.stringify({ pid: 2 ** 22 + 12345 }));
    expect(await withDestinationLock(dest, async () => 7)).toBe(7);
    expect(existsSync(join(dir, '.file.bin.vast-mcp-lock'))).toBe(false);
  });
});
