import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** What an append or a read had to repair: reported so the caller can log it. */
export interface JsonlRepairNotice {
  path: string;
  kind: 'torn_tail' | 'skipped_line' | 'mode_tightened';
  detail: string;
}
export type OnRepair = (notice: JsonlRepairNotice) => void;

/** A line longer than this is not ours (records are capped well below): skipped without being held. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Appends one JSON record as one line with one write() on an O_APPEND descriptor, then fsyncs.
 * On Linux each such write lands whole at the end of the file, so two server processes appending
 * at once interleave records, never bytes within a record.
 * A torn last line (a crash mid-write) is closed with a newline first, so it cannot swallow this
 * record; a file readable by others (an older version's) is made owner-only.
 */
export function appendJsonLine(path: string, record: unknown, onRepair?: OnRepair): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
  const fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
  try {
    const st = fstatSync(fd);
    if ((st.mode & 0o077) !== 0) {
      fchmodSync(fd, 0o600);
      onRepair?.({ path, kind: 'mode_tightened', detail: `mode ${(st.mode & 0o777).toString(8)} → 600` });
    }
    if (st.size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, st.size - 1);
      if (last[0] !== 0x0a) {
        line = Buffer.concat([Buffer.from('\n'), line]);
        onRepair?.({ path, kind: 'torn_tail', detail: 'the last line had no newline (torn write); closed it before appending' });
      }
    }
    let off = 0;
    while (off < line.length) off += writeSync(fd, line, off, line.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `each` for every complete record, reading in chunks (a file of any size, even past what one
 * string can hold). A torn or foreign line is skipped (and reported), never fatal.
 */
export function forEachJsonLine<T>(path: string, each: (record: T) => void, onRepair?: OnRepair): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const chunk = Buffer.alloc(1 << 20);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let oversized = false;
    let lineNo = 0;
    const emit = (bytes: Buffer) => {
      lineNo++;
      if (oversized) {
        oversized = false;
        return onRepair?.({ path, kind: 'skipped_line', detail: `line ${lineNo} is longer than ${MAX_LINE_BYTES} bytes` });
      }
      const text = bytes.toString('utf8');
      if (!text.trim()) return;
      try {
        each(JSON.parse(text) as T);
      } catch {
        onRepair?.({ path, kind: 'skipped_line', detail: `line ${lineNo} is not JSON (torn or foreign), ${bytes.length} bytes` });
      }
    };
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, 0); nl !== -1 && nl < n; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        emit(pending.length ? Buffer.concat([...pending, piece]) : Buffer.from(piece));
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
      }
      if (start < n && !oversized) {
        pendingBytes += n - start;
        if (pendingBytes > MAX_LINE_BYTES) {
          oversized = true;
          pending = [];
        } else pending.push(Buffer.from(chunk.subarray(start, n)));
      }
    }
    if (pending.length || oversized) emit(Buffer.concat(pending));
  } finally {
    closeSync(fd);
  }
}

/** Reads every complete record; a torn last line (crash mid-write) is skipped, not fatal. */
export function readJsonLines<T>(path: string, onRepair?: OnRepair): T[] {
  const out: T[] = [];
  forEachJsonLine<T>(path, (r) => out.push(r), onRepair);
  return out;
}
