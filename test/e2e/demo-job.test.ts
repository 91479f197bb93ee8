import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanEnv } from '../helpers/spawn.js';

const DEMO = fileURLToPath(new URL('../../dist/scripts/demo.js', import.meta.url));

function runDemo(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += String(c)));
    p.stderr.on('data', (c) => (stderr += String(c)));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo: the job part', () => {
  it('submits with a cap and a standing approval, is outbid, resumes elsewhere from its checkpoint, verifies its output and destroys its instances', async () => {
    const r = await runDemo({ VAST_MCP_DEMO_ONLY: 'job' });
    expect(r.code, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(r.stdout).toMatch(/the server asks the user:\n[\s\S]*Cap: \$2 \(hard/);
    expect(r.stdout).toMatch(/Standing teardown approval granted/);
    expect(r.stdout).toMatch(/\[job\] RUNNING → RECOVERING: instance #\d+ is stopped, confirmed by a second reading/);
    expect(r.stdout).toMatch(
      /\[job\] RECOVERING → RUNNING: attempt 2 running on instance #\d+ \(machine \d+\) from checkpoint step \d+ \(restored and verified\)/,
    );
    expect(r.stdout).toMatch(/\[job\] TEARDOWN → succeeded: teardown done \(destroy\)/);
    expect(r.stdout).toMatch(/Billing for this job: \$\d+\.\d{4} over 2 instances/);
    const ok =
      /JOB DEMO OK: outbid on machine (\d+) at step (\d+), resumed on machine (\d+) from checkpoint step (\d+), .* 2 instances destroyed/.exec(
        r.stdout,
      );
    expect(ok, r.stdout.slice(-2000)).not.toBeNull();
    expect(ok![1]).not.toBe(ok![3]);
    // Resumed from the last checkpoint copied off before the outbid, not from zero.
    expect(Number(ok![4])).toBeGreaterThanOrEqual(20);
    expect(r.stdout).toMatch(/Demo finished\./);
  }, 180_000);
});
