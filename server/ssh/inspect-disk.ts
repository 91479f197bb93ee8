import type { ServerDeps } from '../deps.js';
import { openInstanceSsh } from './access.js';

/** What is on an instance's /workspace: files with their sizes (names are instance-controlled: escape them before showing). */
export interface DiskSummary {
  total_bytes: number;
  files: { path: string; bytes: number }[];
  /** The listing was cut (very many files): the totals are lower bounds. */
  truncated: boolean;
}

const LIST_CAP_BYTES = 4 * 1024 * 1024;

/** Parses `find -printf '%s\t%p\0'` output (NUL-separated, so a newline in a name cannot split a record). */
export function parseFileList(raw: Buffer, capped: boolean): DiskSummary {
  const records = raw.toString('utf8').split('\0');
  // The last record is partial when the output was capped.
  if (capped) records.pop();
  const files: DiskSummary['files'] = [];
  for (const r of records) {
    const tab = r.indexOf('\t');
    if (tab <= 0) continue;
    const bytes = Number(r.slice(0, tab));
    if (!Number.isFinite(bytes) || bytes < 0) continue;
    files.push({ path: r.slice(tab + 1), bytes });
  }
  return { total_bytes: files.reduce((s, f) => s + f.bytes, 0), files, truncated: capped };
}

/** Every file under /workspace with its size, over SSH, for the destroy approval. Null when unreachable. */
export async function inspectWorkspace(deps: ServerDeps, instanceId: number): Promise<DiskSummary | null> {
  const access = await openInstanceSsh(deps, instanceId, { attachKey: true, readinessMs: 5000 }).catch(() => null);
  if (!access) return null;
  try {
    const r = await access.session.exec(
      `find /workspace -xdev -type f -printf '%s\\t%p\\0' 2>/dev/null | head -c ${LIST_CAP_BYTES + 1}`,
      30_000,
      LIST_CAP_BYTES + 1,
    );
    if (r.code !== 0 && !r.stdout.length) return null;
    const capped = r.stdout.length > LIST_CAP_BYTES;
    return parseFileList(capped ? r.stdout.subarray(0, LIST_CAP_BYTES) : r.stdout, capped);
  } catch {
    return null;
  } finally {
    access.session.end();
  }
}
