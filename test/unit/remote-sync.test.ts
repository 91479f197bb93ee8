import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { remoteSyncFragment } from '../../server/copy/remote-sync.js';
import { shellQuote } from '../../server/ssh/ssh-session.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs the fragment with a `sync` on PATH that answers as given and logs its arguments. */
function runWithSync(answer: { status: number; stderr: string } | null) {
  const dir = mkdtempSync(join(tmpdir(), 'remote-sync-'));
  dirs.push(dir);
  const log = join(dir, 'calls');
  writeFileSync(join(dir, 'a file'), 'x');
  if (answer) {
    writeFileSync(
      join(dir, 'sync'),
      `#!/bin/sh\necho "$*" >> ${shellQuote(log)}\nif [ "$1" = -f ]; then printf '%s\\n' ${shellQuote(answer.stderr)} >&2; exit ${answer.status}; fi\nexit 0\n`,
    );
    chmodSync(join(dir, 'sync'), 0o755);
  }
  const r = spawnSync('sh', ['-c', `${remoteSyncFragment(shellQuote(join(dir, 'a file')))} && echo DURABLE`], {
    encoding: 'utf8',
    env: { PATH: answer ? `${dir}:${process.env.PATH}` : process.env.PATH },
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(log, 'utf8').split('\n').slice(0, -1);
  } catch {
    /* not called */
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
}

describe('the durability barrier on the instance', () => {
  it('the real sync -f succeeds here', () => {
    const r = runWithSync(null);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('DURABLE\n');
  });

  it('a write-back error from sync -f fails it, with the message, and is not hidden by a plain sync', () => {
    const r = runWithSync({ status: 1, stderr: "sync: error syncing '/workspace/x': Input/output error" });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Input/output error');
    expect(r.calls).toEqual([expect.stringMatching(/^-f -- .*a file$/)]);
  });

  it('an old sync without -f falls back to syncing everything', () => {
    for (const msg of ["sync: invalid option -- 'f'", 'sync: unrecognized option', 'sync: illegal option -- f']) {
      const r = runWithSync({ status: 1, stderr: msg });
      expect(r.status, msg).toBe(0);
      expect(r.stdout).toBe('DURABLE\n');
      expect(r.calls).toEqual([expect.stringMatching(/^-f /), '']);
    }
  });
});
