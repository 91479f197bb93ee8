import type { z } from 'zod';

export type Warn = (detail: Record<string, unknown>, message: string) => void;

function issuePaths(error: z.ZodError): string[] {
  return error.issues.slice(0, 5).map((i) => (i.path.length ? i.path.join('.') : '(row)'));
}

/**
 * Parses one row: the strict schema first; when it does not fit, the lenient one (odd fields become
 * null, with a warning naming them). A row without a usable id is dropped (null), also with a warning.
 * One surprising row or field never fails the whole call.
 */
export function parseRow<S extends z.ZodType, L extends z.ZodType<z.infer<S>>>(
  row: unknown,
  strict: S,
  lenient: L,
  what: string,
  warn: Warn,
): z.infer<S> | null {
  const s = strict.safeParse(row);
  if (s.success) return s.data;
  const id = (row as { id?: unknown } | null)?.id;
  const l = lenient.safeParse(row);
  if (l.success) {
    warn({ what, id, fields: issuePaths(s.error) }, `unexpected field shape in a ${what} row; read as unknown`);
    return l.data;
  }
  warn({ what, id, fields: issuePaths(l.error) }, `unreadable ${what} row skipped`);
  return null;
}

export function parseRows<S extends z.ZodType, L extends z.ZodType<z.infer<S>>>(
  rows: unknown[] | null | undefined,
  strict: S,
  lenient: L,
  what: string,
  warn: Warn,
): z.infer<S>[] {
  const out: z.infer<S>[] = [];
  for (const row of rows ?? []) {
    const r = parseRow(row, strict, lenient, what, warn);
    if (r !== null) out.push(r);
  }
  return out;
}
