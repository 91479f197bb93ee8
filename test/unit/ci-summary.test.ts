import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A vitest JSON report as the json reporter writes it (the fields the summary reads). */
function report(passed: number, failed: number, extra: Record<string, unknown> = {}) {
  const assertionResults = [
    ...Array.from({ length: passed }, () => ({ status: 'passed' })),
    ...Array.from({ length: failed }, () => ({ status: 'failed' })),
  ];
  return {
    numTotalTests: passed + failed,
    numPassedTests: passed,
    numFailedTests: failed,
    numPendingTests: 0,
    numTodoTests: 0,
    testResults: [{ status: failed ? 'failed' : 'passed', assertionResults }],
    ...extra,
  };
}

function summary(reports: Record<string, unknown>, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'ci-summary-'));
  dirs.push(dir);
  const files = Object.entries(reports).map(([name, r]) => {
    const file = join(dir, name);
    if (r !== null) writeFileSync(file, JSON.stringify(r));
    return file;
  });
  const r = spawnSync(process.execPath, ['scripts/ci-summary.mjs', ...files, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CI summary over the Node 20 and Node 22 legs', () => {
  it('adds both legs and passes when both pass, naming each leg', () => {
    const r = summary({ 'vitest-node-default.json': report(600, 0), 'vitest-node-22.json': report(600, 0) });
    expect(r.stdout.trim()).toBe('1200 passed, 0 failed');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('vitest-node-default.json: 600 passed, 0 failed');
    expect(r.stderr).toContain('vitest-node-22.json: 600 passed, 0 failed');
  });

  it('fails when only the Node 22 leg has a failing test', () => {
    const r = summary({ 'vitest-node-default.json': report(600, 0), 'vitest-node-22.json': report(599, 1) });
    expect(r.stdout.trim()).toBe('1199 passed, 1 failed');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('vitest-node-22.json: 599 passed, 1 failed');
  });

  it('fails when the Node 22 leg left no report (Node 22 not installed, the runner crashed)', () => {
    const r = summary({ 'vitest-node-default.json': report(600, 0), 'vitest-node-22.json': null });
    expect(r.stdout.trim()).toBe('600 passed, 1 failed');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no test report at .*vitest-node-22\.json/);
  });

  it('fails when a leg ran no test at all, even if the other leg passed', () => {
    const r = summary({ 'vitest-node-default.json': report(600, 0), 'vitest-node-22.json': report(0, 0, { testResults: [] }) });
    expect(r.stdout.trim()).toBe('600 passed, 1 failed');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/vitest-node-22\.json.*ran no test/);
  });

  it('counts a failed step such as lint once', () => {
    const r = summary({ 'vitest-node-default.json': report(3, 0), 'vitest-node-22.json': report(3, 0) }, ['--failed-step', 'lint']);
    expect(r.stdout.trim()).toBe('6 passed, 1 failed');
    expect(r.status).toBe(1);
  });

  it('.ci/run hands the Node 22 report to the summary, so that leg is counted', () => {
    const ci = readFileSync('.ci/run', 'utf8');
    expect(ci).toMatch(/reports\+=\(\.test-output\/vitest-node-22\.json\)/);
    expect(ci).toMatch(/--outputFile\.json=\.test-output\/vitest-node-22\.json/);
    expect(ci).toMatch(/node scripts\/ci-summary\.mjs "\$\{reports\[@\]\}"/);
    expect(ci).not.toMatch(/informational/);
  });
});
