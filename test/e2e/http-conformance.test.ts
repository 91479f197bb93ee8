import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/conformance.sh', import.meta.url));

function run(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let out = '';
    p.stdout.on('data', (c) => (out += String(c)));
    p.stderr.on('data', (c) => (out += String(c)));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

describe('MCP conformance suite 0.1.13 against the built `vast-mcp serve`', () => {
  it('passes every scenario except the baseline of fixture-only ones, DNS-rebinding checks included', async () => {
    const r = await run();
    const plain = r.out.replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/dns-rebinding-protection: 2 passed, 0 failed/);
    expect(plain).toMatch(/server-initialize: 1 passed, 0 failed/);
    expect(plain).toMatch(/server-sse-multiple-streams: 2 passed, 0 failed/);
    expect(plain).toMatch(/Baseline check passed/);
    expect(r.code).toBe(0);
  }, 120_000);
});
