import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { OnRepair } from './jsonl-file.js';

/** Public halves may stay readable; everything else in the state directory is owner-only. */
const PUBLIC_FILE = /\.pub$/;

/**
 * Makes the state directory and what it holds owner-only, including files and folders an older
 * version created with looser modes (its ledger, audit log, SSH key). Symlinks are not followed.
 */
export function secureStateDir(stateDir: string, onRepair?: OnRepair, depth = 0): void {
  if (depth === 0) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (!existsSync(stateDir)) return;
  const tighten = (path: string, want: number) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077 & ~want) !== 0) {
      chmodSync(path, want);
      onRepair?.({ path, kind: 'mode_tightened', detail: `mode ${(st.mode & 0o777).toString(8)} → ${want.toString(8)}` });
    }
  };
  tighten(stateDir, 0o700);
  for (const entry of readdirSync(stateDir, { withFileTypes: true })) {
    const path = join(stateDir, entry.name);
    if (entry.isDirectory()) {
      if (depth < 2) secureStateDir(path, onRepair, depth + 1);
      else tighten(path, 0o700);
    } else if (entry.isFile() && !PUBLIC_FILE.test(entry.name)) tighten(path, 0o600);
  }
}

/**
 * The state directory of a sandbox session: under the real one but apart, and new per run (each
 * in-process simulator starts its ids over), so sandbox records never mix with real ones.
 */
export function sandboxStateDir(stateDir: string, runId: string): string {
  return join(stateDir, 'sandbox', runId);
}
