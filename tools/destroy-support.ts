import type { ServerDeps } from '../server/deps.js';
import { quoteForHuman } from '../server/safety/untrusted-text.js';
import { uncoveredFiles, type GateState } from '../server/safety/destroy-gate.js';
import type { DiskSummary } from '../server/ssh/inspect-disk.js';
import type { Instance } from '../server/vast/schemas.js';

const SHOWN_FILES = 20;

function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export interface NotCovered {
  inspected: boolean;
  files: { path: string; bytes: number }[];
  count: number;
  bytes: number;
  truncated: boolean;
}

/** What on the instance is NOT covered by a verified copy: every file name escaped and quoted (instance-controlled). */
export function notCoveredLines(disk: DiskSummary | null, state: GateState): { lines: string[]; summary: NotCovered } {
  if (!disk) {
    return {
      lines: [
        '  Not covered by a verified copy: UNKNOWN — the disk could not be inspected (instance not running or SSH unreachable); assume everything not listed above is lost.',
      ],
      summary: { inspected: false, files: [], count: 0, bytes: 0, truncated: false },
    };
  }
  const missing = uncoveredFiles(disk.files, state.copies);
  const bytes = missing.reduce((s, f) => s + f.bytes, 0);
  const lines = [
    `  NOT covered by a verified copy: ${missing.length} file(s), ${size(bytes)}${disk.truncated ? ' (listing cut: at least this much)' : ''} of ${size(disk.total_bytes)} on /workspace:`,
  ];
  for (const f of missing.slice(0, SHOWN_FILES)) lines.push(`    - ${quoteForHuman(f.path, 160)} (${size(f.bytes)})`);
  if (missing.length > SHOWN_FILES) lines.push(`    - …and ${missing.length - SHOWN_FILES} more file(s)`);
  if (!missing.length)
    lines[0] = disk.files.length
      ? `  Every file on /workspace (${disk.files.length}, ${size(disk.total_bytes)}) has a verified copy.`
      : '  /workspace holds no files.';
  return { lines, summary: { inspected: true, files: missing.slice(0, SHOWN_FILES), count: missing.length, bytes, truncated: disk.truncated } };
}

/** What the user must see before approving: the instance, its data, what is safe, what is saved, what is not. */
export async function describeForDestroy(
  deps: ServerDeps,
  inst: Instance,
  state: GateState,
  burn: number,
  discard: boolean,
): Promise<{ message: string; notCovered: NotCovered }> {
  let disk: DiskSummary | null = null;
  if (deps.inspectDisk && inst.actual_status === 'running') disk = await deps.inspectDisk(inst.id).catch(() => null);
  const copies = state.copies.length
    ? state.copies
        .map(
          (c) =>
            `    - ${quoteForHuman(c.remote_path, 160)} → ${quoteForHuman(c.destination, 160)} (${c.size} bytes, sha256 ${c.sha256_local.slice(0, 12)}…, verified ${new Date(c.at * 1000).toISOString()})`,
        )
        .join('\n')
    : '    - NONE: nothing from this instance was copied off and verified since its last start';
  const nc = notCoveredLines(disk, state);
  const message = [
    `Destroy instance ${inst.id} ${inst.label ? quoteForHuman(inst.label, 80) : '(no label)'} (${inst.num_gpus ?? '?'}x ${inst.gpu_name ?? '?'}, ${inst.actual_status ?? 'provisioning'})?`,
    '  This PERMANENTLY DELETES its disk; no shared filesystem survives.',
    `  Last start: ${state.sinceNote}.`,
    '  Verified copies:',
    copies,
    ...nc.lines,
    discard ? '  The user chose to DISCARD the data: nothing needs keeping.' : '',
    `  Saves $${burn.toFixed(4)}/h ($${(burn * 24).toFixed(2)}/day).`,
  ]
    .filter(Boolean)
    .join('\n');
  return { message, notCovered: nc.summary };
}

/** Re-reads the instance after destroy until it is gone, for a few seconds at most. */
export async function verifyGone(deps: ServerDeps, id: number): Promise<'gone' | 'present'> {
  for (let i = 0; i < 5; i++) {
    const one = await deps.vast.getInstance(id);
    if (!one) {
      const listed = (await deps.vast.listInstances()).some((x) => x.id === id);
      if (!listed) return 'gone';
    }
    await deps.sleep(1000);
  }
  return 'present';
}
