import {
  constants as fsConstants,
  closeSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;

/** SFTP open flags → fs flags (ssh2's flagsToString has no answer for WRITE|CREAT, which scp sends). */
function fsFlags(f: number): number {
  const c = fsConstants;
  let flags = f & OPEN_MODE.WRITE ? (f & OPEN_MODE.READ ? c.O_RDWR : c.O_WRONLY) : c.O_RDONLY;
  if (f & OPEN_MODE.CREAT) flags |= c.O_CREAT;
  if (f & OPEN_MODE.TRUNC) flags |= c.O_TRUNC;
  if (f & OPEN_MODE.EXCL) flags |= c.O_EXCL;
  if (f & OPEN_MODE.APPEND) flags |= c.O_APPEND;
  return flags;
}

function attrsOf(st: Stats) {
  return { mode: st.mode, uid: 0, gid: 0, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function codeOf(e: unknown): number {
  const c = (e as NodeJS.ErrnoException).code;
  if (c === 'ENOENT') return STATUS_CODE.NO_SUCH_FILE;
  if (c === 'EACCES' || c === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

/**
 * SFTP over the instance's directories. Every request is answered synchronously, so replies leave in
 * the order requests arrived (OpenSSH's scp truncates files silently when they do not).
 */
export function serveSftp(sftp: SFTPWrapper, toHost: (remote: string) => string | null): void {
  const files = new Map<number, { fd: number; path: string }>();
  const dirs = new Map<number, { entries: string[] | null; path: string }>();
  let nextHandle = 1;
  const handleOf = (buf: Buffer): number => (buf.length === 4 ? buf.readUInt32BE(0) : -1);
  const newHandle = (): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(nextHandle++);
    return b;
  };
  const guard = (reqid: number, remote: string): string | null => {
    const p = toHost(remote);
    if (p === null) sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'only /workspace and /root are available');
    return p;
  };
  const attempt = (reqid: number, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      sftp.status(reqid, codeOf(e), (e as Error).message);
    }
  };

  sftp.on('OPEN', (reqid, filename, flags) => {
    const p = guard(reqid, filename);
    if (p === null) return;
    attempt(reqid, () => {
      const fd = openSync(p, fsFlags(flags), 0o644);
      const h = newHandle();
      files.set(h.readUInt32BE(0), { fd, path: p });
      sftp.handle(reqid, h);
    });
  });
  sftp.on('READ', (reqid, handle, offset, length) => {
    const f = files.get(handleOf(handle));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    attempt(reqid, () => {
      const buf = Buffer.alloc(Math.min(length, 256 * 1024));
      const n = readSync(f.fd, buf, 0, buf.length, offset);
      if (n === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.data(reqid, buf.subarray(0, n));
    });
  });
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const f = files.get(handleOf(handle));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    attempt(reqid, () => {
      let done = 0;
      while (done < data.length) done += writeSync(f.fd, data, done, data.length - done, offset + done);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  });
  sftp.on('CLOSE', (reqid, handle) => {
    const h = handleOf(handle);
    const f = files.get(h);
    if (f) {
      files.delete(h);
      attempt(reqid, () => {
        closeSync(f.fd);
        sftp.status(reqid, STATUS_CODE.OK);
      });
      return;
    }
    if (dirs.delete(h)) return sftp.status(reqid, STATUS_CODE.OK);
    sftp.status(reqid, STATUS_CODE.FAILURE);
  });
  sftp.on('FSTAT', (reqid, handle) => {
    const f = files.get(handleOf(handle));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    attempt(reqid, () => sftp.attrs(reqid, attrsOf(fstatSync(f.fd))));
  });
  sftp.on('FSETSTAT', (reqid, handle, attrs) => {
    const f = files.get(handleOf(handle));
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE);
    attempt(reqid, () => {
      if (typeof attrs.size === 'number') ftruncateSync(f.fd, attrs.size);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  });
  for (const ev of ['STAT', 'LSTAT'] as const) {
    sftp.on(ev, (reqid: number, path: string) => {
      const p = guard(reqid, path);
      if (p === null) return;
      attempt(reqid, () => sftp.attrs(reqid, attrsOf(ev === 'STAT' ? statSync(p) : lstatSync(p))));
    });
  }
  sftp.on('OPENDIR', (reqid, path) => {
    const p = guard(reqid, path);
    if (p === null) return;
    attempt(reqid, () => {
      if (!statSync(p).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      const h = newHandle();
      dirs.set(h.readUInt32BE(0), { entries: null, path: p });
      sftp.handle(reqid, h);
    });
  });
  sftp.on('READDIR', (reqid, handle) => {
    const d = dirs.get(handleOf(handle));
    if (!d) return sftp.status(reqid, STATUS_CODE.FAILURE);
    attempt(reqid, () => {
      if (d.entries === null) {
        d.entries = readdirSync(d.path);
        const names = d.entries.map((name) => {
          const st = lstatSync(`${d.path}/${name}`);
          return {
            filename: name,
            longname: `${st.isDirectory() ? 'd' : '-'}rw-r--r-- 1 root root ${st.size} Jan 1 00:00 ${name}`,
            attrs: attrsOf(st),
          };
        });
        if (names.length) return sftp.name(reqid, names);
      }
      sftp.status(reqid, STATUS_CODE.EOF);
    });
  });
  sftp.on('REALPATH', (reqid, path) => {
    const abs = path.startsWith('/') ? path : `/root/${path === '.' ? '' : path}`;
    const norm = `/${abs
      .split('/')
      .filter((x) => x && x !== '.')
      .reduce<string[]>((acc, x) => (x === '..' ? acc.slice(0, -1) : [...acc, x]), [])
      .join('/')}`;
    sftp.name(reqid, [{ filename: norm, longname: norm, attrs: {} as never }]);
  });
  // Requests that act on one path and answer OK.
  const simple: [string, (p: string) => void][] = [
    ['MKDIR', (p) => mkdirSync(p)],
    ['RMDIR', (p) => rmdirSync(p)],
    ['REMOVE', (p) => unlinkSync(p)],
    ['SETSTAT', (p) => void statSync(p)],
  ];
  for (const [event, act] of simple) {
    sftp.on(event as 'MKDIR', (reqid: number, path: string) => {
      const p = guard(reqid, path);
      if (p === null) return;
      attempt(reqid, () => {
        act(p);
        sftp.status(reqid, STATUS_CODE.OK);
      });
    });
  }
  sftp.on('RENAME', (reqid, from, to) => {
    const a = guard(reqid, from);
    if (a === null) return;
    const b = guard(reqid, to);
    if (b === null) return;
    attempt(reqid, () => {
      renameSync(a, b);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  });
  // When the client ends, answer with an exit status and close the channel: without them scp exits 1
  // and sftp hangs. ssh2 exposes no exit() on an SFTP channel, so use its protocol handle.
  sftp.on('end', () => {
    const raw = sftp as unknown as { _protocol?: { exitStatus(id: number, code: number): void }; outgoing?: { id: number; state: string } };
    try {
      if (raw._protocol && raw.outgoing && raw.outgoing.state === 'open') raw._protocol.exitStatus(raw.outgoing.id, 0);
    } catch {
      /* connection already gone */
    }
    sftp.end();
  });
  sftp.on('close', () => {
    for (const f of files.values()) {
      try {
        closeSync(f.fd);
      } catch {
        /* already closed */
      }
    }
    files.clear();
  });
}
