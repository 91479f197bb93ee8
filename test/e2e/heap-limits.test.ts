import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAIN, runCli } from '../helpers/spawn.js';

const PROBE = fileURLToPath(new URL('../fixtures/young-gen-probe.cjs', import.meta.url));
const MIB = 1024 * 1024;

/** Runs node with the probe preloaded and returns the young generation's size after the probe's churn. */
function newSpaceAfterChurn(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const r = spawnSync(process.execPath, ['--require', PROBE, ...args], { encoding: 'utf8', input: '', timeout: 60_000, env });
  const m = /new_space_bytes=(\d+)/.exec(r.stderr);
  if (!m) throw new Error(`probe printed nothing (status ${r.status}): ${r.stderr.slice(0, 500)}`);
  return Number(m[1]);
}

describe('the process entry keeps the young generation small (server peak RSS during copies)', () => {
  it('a plain node process grows its new space under the same churn (the probe can tell)', () => {
    expect(newSpaceAfterChurn(['-e', ''])).toBeGreaterThan(8 * MIB);
  });

  it('vast-mcp, whatever the command, leaves it at its starting size', () => {
    expect(newSpaceAfterChurn([MAIN, 'version'])).toBeLessThanOrEqual(4 * MIB);
    expect(newSpaceAfterChurn([MAIN, 'help'])).toBeLessThanOrEqual(4 * MIB);
  });

  it('the stdio server, after loading all its modules and serving until stdin closes, too', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'vast-heap-'));
    try {
      const env = { ...process.env, VAST_MCP_STATE_DIR: stateDir, VAST_API_KEY: 'test-key-not-used', VAST_URL: 'http://127.0.0.1:9' };
      expect(newSpaceAfterChurn([MAIN], env)).toBeLessThanOrEqual(4 * MIB);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('a bad VAST_MCP_HEAP_GROWING_PERCENT stops the process at once with a clear message (exit 2)', async () => {
    const r = await runCli(['version'], { VAST_MCP_HEAP_GROWING_PERCENT: 'lots' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/VAST_MCP_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000/);
    expect(r.stdout).toBe('');
  });
});
