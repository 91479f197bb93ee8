export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

export const median = (v: number[]) => quantile(v, 0.5);

export interface Row {
  name: string;
  value: string;
  comparison: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
  note?: string;
}

export function formatTable(rows: Row[]): string {
  const head = ['measure', 'ours', 'comparison', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [r.name, r.value, r.comparison, r.ratio === null ? '—' : r.ratio.toFixed(2), r.target, r.met === null ? `skipped${r.note ? ` (${r.note})` : ''}` : r.met ? 'met' : `MISSED${r.note ? ` (${r.note})` : ''}`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
