import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Logger } from '../logger.js';
import { auditFiles, type AuditEntry, type AuditMirror } from '../state/audit-log.js';
import { MAX_LINE_BYTES } from '../state/jsonl-file.js';
import type { PgJobStore } from './pg-store.js';

/** Rows per INSERT, and bytes: one statement stays well inside what the server takes. */
const BATCH_ROWS = 200;
const BATCH_BYTES = 1 << 20;
const CHUNK = 1 << 20;

interface Cursor {
  /** Bytes of the file mirrored (always just after a newline). */
  offset: number;
  /** sha256 of the line that ends at `offset` ('' at 0): a file rewritten with the same first line starts over. */
  tail: string;
}

interface Row {
  key: string;
  at: string;
  /** Where the line starts in its file. */
  pos: number;
  line: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The first complete line of a file (its identity: a rotation renames the file, the line stays), or null. */
function firstLine(fd: number, size: number): Buffer | null {
  const buf = Buffer.alloc(Math.min(size, MAX_LINE_BYTES + 1));
  const n = readSync(fd, buf, 0, buf.length, 0);
  const nl = buf.subarray(0, n).indexOf(0x0a);
  return nl === -1 ? null : buf.subarray(0, nl);
}

/** The line that ends (with its newline) at `offset`, or null when it cannot be found. */
function lineEndingAt(fd: number, offset: number): Buffer | null {
  if (offset <= 0) return null;
  const from = Math.max(0, offset - 64 * 1024);
  const buf = Buffer.alloc(offset - from);
  const n = readSync(fd, buf, 0, buf.length, from);
  if (n !== buf.length || buf[n - 1] !== 0x0a) return null;
  const start = buf.subarray(0, n - 1).lastIndexOf(0x0a);
  if (start === -1 && from > 0) return null;
  return buf.subarray(start + 1, n - 1);
}

/**
 * Mirrors a state directory's audit files (the durable outbox) into the shared store, and reads every
 * replica's records from there. Each complete line is one row keyed by its sha256, so a line mirrored
 * twice (a retry, a restart, two processes on one state dir) is one row; a cursor per file (persisted,
 * keyed by the file's first line, which rotation keeps) means a restart does not send everything again.
 */
export class PgAuditMirror implements AuditMirror {
  private readonly cursors = new Map<string, Cursor>();
  /** Something may be in the files that is not in the store yet (at start: whatever the last run left). */
  private dirty = true;
  private queue: Promise<void> = Promise.resolve();
  private scheduled = false;
  private failing = false;
  private last: AuditEntry[] | null = null;

  constructor(
    private readonly store: PgJobStore,
    private readonly stateDir: string,
    private readonly logger: Logger,
  ) {}

  notify(): void {
    this.dirty = true;
    if (this.scheduled) return;
    this.scheduled = true;
    // After the caller's synchronous work; a burst of records is one pass.
    setImmediate(() => {
      this.scheduled = false;
      this.flush().catch(() => undefined);
    });
  }

  flush(): Promise<void> {
    const run = this.queue.catch(() => undefined).then(() => (this.dirty ? this.pass() : undefined));
    this.queue = run;
    return run;
  }

  async entries(): Promise<AuditEntry[]> {
    await this.flush();
    const rows = await this.store.exec('SELECT line FROM audit_log ORDER BY at, origin, pos');
    const out: AuditEntry[] = [];
    for (const r of rows) out.push(JSON.parse(r.line as string) as AuditEntry);
    this.last = out;
    return out;
  }

  lastRead(): AuditEntry[] | null {
    return this.last;
  }

  private async pass(): Promise<void> {
    this.dirty = false;
    try {
      for (const path of auditFiles(this.stateDir)) await this.mirrorFile(path);
      if (this.failing) this.logger.info('audit log: the shared store caught up with this server’s records');
      this.failing = false;
    } catch (e) {
      this.dirty = true;
      // Logged once per outage: the records stay in the local file and go out with the next pass.
      if (!this.failing) {
        const err = e as NodeJS.ErrnoException;
        this.logger.warn(
          { err: err.message, code: err.code },
          'audit log: could not copy records to the shared store; kept in the local file, retried',
        );
      }
      this.failing = true;
      throw e;
    }
  }

  private async mirrorFile(path: string): Promise<void> {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      const size = fstatSync(fd).size;
      const first = size ? firstLine(fd, size) : null;
      if (!first) return;
      const id = sha256(first);
      const cursor = this.cursors.get(id) ?? (await this.loadCursor(id, fd, size));
      if (cursor.offset >= size) return;
      // Sorts a rotated file before the one that replaced it (its first record is older), then by digest.
      const origin = `${this.rowOf(first, 0)?.at ?? ''} ${id}`;
      await this.mirrorFrom(fd, size, { id, origin }, cursor);
    } finally {
      closeSync(fd);
    }
  }

  /** The persisted cursor when the file still holds the line it ends after; else the start (re-sent rows are no-ops). */
  private async loadCursor(id: string, fd: number, size: number): Promise<Cursor> {
    const [row] = await this.store.exec('SELECT byte_offset, tail FROM audit_cursors WHERE file_id = $1', [id]);
    const offset = Number(row?.byte_offset ?? 0);
    if (!row || offset > size) return { offset: 0, tail: '' };
    const line = lineEndingAt(fd, offset);
    return line && sha256(line) === row.tail ? { offset, tail: row.tail as string } : { offset: 0, tail: '' };
  }

  /** Complete lines from the cursor on, in batches; each batch and the cursor after it in one statement. */
  private async mirrorFrom(fd: number, size: number, file: { id: string; origin: string }, cursor: Cursor): Promise<void> {
    let pos = cursor.offset;
    let batch: Row[] = [];
    let batchBytes = 0;
    let end = cursor;
    const send = async () => {
      if (batch.length || end.offset !== cursor.offset) await this.insert(file, batch, end);
      this.cursors.set(file.id, end);
      cursor = end;
      batch = [];
      batchBytes = 0;
    };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let oversized = false;
    const chunk = Buffer.alloc(CHUNK);
    while (pos < size) {
      const n = readSync(fd, chunk, 0, Math.min(CHUNK, size - pos), pos);
      if (n === 0) break;
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, 0); nl !== -1 && nl < n; nl = chunk.indexOf(0x0a, start)) {
        const line = pending.length ? Buffer.concat([...pending, chunk.subarray(start, nl)]) : Buffer.from(chunk.subarray(start, nl));
        const lineEnd = pos + nl + 1;
        const skip = oversized;
        pending = [];
        pendingBytes = 0;
        oversized = false;
        start = nl + 1;
        end = { offset: lineEnd, tail: sha256(line) };
        const row = skip ? null : this.rowOf(line, lineEnd - line.length - 1);
        if (row) {
          batch.push(row);
          batchBytes += row.line.length;
        }
        if (batch.length >= BATCH_ROWS || batchBytes >= BATCH_BYTES) await send();
      }
      if (start < n && !oversized) {
        // A line longer than any record (not ours) is skipped, as the file reader does, without being held.
        pendingBytes += n - start;
        if (pendingBytes > MAX_LINE_BYTES) {
          oversized = true;
          pending = [];
        } else pending.push(Buffer.from(chunk.subarray(start, n)));
      }
      pos += n;
    }
    // A last line without its newline is being written (or torn): it waits for the next pass.
    await send();
  }

  /** A row for a JSON line; blank, torn or foreign lines are not records (the file reader skips them too). */
  private rowOf(line: Buffer, pos: number): Row | null {
    const text = line.toString('utf8');
    if (!text.trim()) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null;
    }
    if (!parsed || typeof parsed !== 'object') return null;
    const at = (parsed as { at?: unknown }).at;
    return { key: sha256(line), at: typeof at === 'string' ? at : '', pos, line: text };
  }

  private async insert(file: { id: string; origin: string }, rows: Row[], cursor: Cursor): Promise<void> {
    const values = rows.flatMap((r) => [r.key, r.at, r.pos, r.line]);
    const tuples = rows.map((_, i) => `($${i * 4 + 5}, $${i * 4 + 6}, $4, $${i * 4 + 7}, $${i * 4 + 8})`).join(', ');
    // One statement: the rows and the cursor after them commit together; a cursor never moves back.
    const insertRows = rows.length
      ? `WITH added AS (INSERT INTO audit_log (key, at, origin, pos, line) VALUES ${tuples} ON CONFLICT (key) DO NOTHING) `
      : '';
    await this.store.exec(
      `${insertRows}INSERT INTO audit_cursors (file_id, byte_offset, tail) VALUES ($1, $2, $3)
       ON CONFLICT (file_id) DO UPDATE SET byte_offset = excluded.byte_offset, tail = excluded.tail
       WHERE audit_cursors.byte_offset < excluded.byte_offset`,
      rows.length ? [file.id, cursor.offset, cursor.tail, file.origin, ...values] : [file.id, cursor.offset, cursor.tail],
    );
  }
}
