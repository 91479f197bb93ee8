/**
 * A streaming reader for the tar stream an instance sends (GNU tar 1.2x–1.3x output: ustar headers,
 * GNU long names ('L'), pax headers ('x')). The stream is hostile: every header checksum is checked,
 * and only regular files are accepted; links, devices, FIFOs and directories are refused outright,
 * since the sender was asked for a list of regular files and nothing else.
 * Format: POSIX.1-2001 pax / GNU tar manual "Basic Tar Format" (header layout, base-256 sizes).
 */

export class TarFormatError extends Error {}

export interface TarEntryHandler {
  /** A regular file starts; `name` is the raw member name, checked by the caller against what it asked for. */
  begin(name: string, size: number): void;
  data(chunk: Buffer): void;
  end(): void;
}

const BLOCK = 512;

function field(h: Buffer, off: number, len: number): string {
  const raw = h.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function numeric(h: Buffer, off: number, len: number): number {
  // GNU base-256: high bit of the first byte set (sizes of 8 GiB and more).
  if (h[off]! & 0x80) {
    let v = h[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[off + i]!;
    return v;
  }
  const s = field(h, off, len).trim();
  if (!/^[0-7]*$/.test(s)) throw new TarFormatError('malformed number in a tar header');
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return numeric(h, 148, 8) === sum;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number(body.toString('ascii', i, sp));
    if (!Number.isInteger(len) || len <= 0 || i + len > body.length) throw new TarFormatError('malformed pax header');
    const rec = body.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const META_CAP = 1 << 20;

/** Feed it chunks with `write`; call `finish` at the end of the stream (it throws if the archive is cut short). */
export class TarReader {
  private buf: Buffer[] = [];
  private buffered = 0;
  /** Bytes of the current member's data still to come, then its padding. */
  private remaining = 0;
  private padding = 0;
  private state: 'header' | 'data' | 'meta' | 'done' = 'header';
  private meta: { kind: 'L' | 'x'; body: Buffer[]; size: number } | null = null;
  private longName: string | null = null;
  private pax: Record<string, string> | null = null;
  private zeroBlocks = 0;

  constructor(private readonly on: TarEntryHandler) {}

  write(chunk: Buffer): void {
    let c = chunk;
    while (c.length) {
      if (this.state === 'done') return; // trailing zero padding after the end marker
      if (this.state === 'data' || this.state === 'meta') {
        if (this.remaining > 0) {
          const n = Math.min(this.remaining, c.length);
          const part = c.subarray(0, n);
          if (this.state === 'data') this.on.data(part);
          else this.meta!.body.push(part);
          this.remaining -= n;
          c = c.subarray(n);
          if (this.remaining === 0 && this.state === 'data') this.on.end();
          continue;
        }
        if (this.padding > 0) {
          const n = Math.min(this.padding, c.length);
          this.padding -= n;
          c = c.subarray(n);
          continue;
        }
        this.closeMember();
        continue;
      }
      const need = BLOCK - this.buffered;
      const take = c.subarray(0, need);
      this.buf.push(take);
      this.buffered += take.length;
      c = c.subarray(take.length);
      if (this.buffered === BLOCK) {
        const header = Buffer.concat(this.buf);
        this.buf = [];
        this.buffered = 0;
        this.header(header);
      }
    }
    if ((this.state === 'data' || this.state === 'meta') && this.remaining === 0 && this.padding === 0) this.closeMember();
  }

  private closeMember(): void {
    if (this.state === 'meta') {
      const body = Buffer.concat(this.meta!.body);
      if (this.meta!.kind === 'L') this.longName = field(body, 0, body.length);
      else this.pax = parsePax(body);
      this.meta = null;
    }
    this.state = 'header';
  }

  private header(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      if (++this.zeroBlocks === 2) this.state = 'done';
      return;
    }
    if (this.zeroBlocks) throw new TarFormatError('data after an end-of-archive block');
    if (!checksumOk(h)) throw new TarFormatError('a tar header failed its checksum (corrupted stream)');
    const type = String.fromCharCode(h[156]!);
    let size = numeric(h, 124, 12);
    const magic = h.toString('latin1', 257, 263);
    this.padding = 0;
    if (type === 'L' || type === 'x') {
      if (size > META_CAP) throw new TarFormatError('oversized tar metadata header');
      this.meta = { kind: type, body: [], size };
      this.state = 'meta';
      this.remaining = size;
      this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size === 0) this.closeMember();
      return;
    }
    if (type === 'g') throw new TarFormatError('global pax headers are not accepted');
    if (type !== '0' && type !== '\0' && type !== '7') {
      const what =
        { '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '5': 'a directory', '6': 'a FIFO' }[type] ??
        `an entry of type ${JSON.stringify(type)}`;
      throw new TarFormatError(`the stream holds ${what}, which was not asked for; refused`);
    }
    // ustar splits long names into prefix/name; GNU format uses that area for other fields.
    let name = magic === 'ustar\0' && h[345] ? `${field(h, 345, 155)}/${field(h, 0, 100)}` : field(h, 0, 100);
    if (this.longName !== null) name = this.longName;
    if (this.pax?.path !== undefined) name = this.pax.path;
    if (this.pax?.size !== undefined) {
      if (!/^\d+$/.test(this.pax.size)) throw new TarFormatError('malformed pax size');
      size = Number(this.pax.size);
    }
    this.longName = null;
    this.pax = null;
    this.on.begin(name, size);
    this.state = 'data';
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.on.end();
  }

  /** The archive must have ended cleanly: no member cut short. */
  finish(): void {
    if (this.state === 'done') return;
    if (this.state === 'header' && this.buffered === 0 && this.zeroBlocks === 0 && this.meta === null) {
      // GNU tar always writes the end marker; a stream that stops between members was cut.
      throw new TarFormatError('the tar stream ended without its end-of-archive marker (cut short)');
    }
    throw new TarFormatError('the tar stream was cut short inside a member');
  }
}
