import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUPERVISOR_LEASE } from '../../server/jobs/supervisor.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import { runCli } from '../helpers/spawn.js';

describe('vast-mcp jobs CLI', () => {
  it('lists, shows, pages logs and cancels idempotently from the state directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobs-cli-'));
    const store = SqliteJobStore.inStateDir(dir);
    await store.createJob({ id: 'abc123', name: 'train-1', spec: { max_cost_usd: 5, max_hours: 2 }, now: 1_000 }, null);
    const f = (await store.acquireLease('job:abc123', 'someone', 60, Date.now() / 1000))!;
    await store.transition(f, 'abc123', 'PROVISIONING', 'looking for an offer', 1_001);
    await store.appendLogs(f, 'abc123', 1, 1_002, ['line one', 'line two', 'line three']);
    await store.close();

    const list = await runCli(['jobs', 'list', '--state-dir', dir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^abc123 train-1: PROVISIONING, attempt -, spent ~\$0\.0000 of \$5/);
    const status = await runCli(['jobs', 'status', 'abc123', '--state-dir', dir]);
    expect(status.stdout).toMatch(/SUBMITTED → PROVISIONING: looking for an offer/);
    const logs = await runCli(['jobs', 'logs', 'abc123', '--limit', '2', '--state-dir', dir]);
    expect(logs.stdout).toBe('[a1] line one\n[a1] line two\n-- more: --cursor 2\n');
    const rest = await runCli(['jobs', 'logs', 'abc123', '--cursor', '2', '--state-dir', dir]);
    expect(rest.stdout).toBe('[a1] line three\n');
    for (let i = 0; i < 2; i++) {
      const c = await runCli(['jobs', 'cancel', 'abc123', '--state-dir', dir]);
      expect(c.stdout).toMatch(/cancel requested for abc123 .*No supervisor is running/);
    }
    const check = SqliteJobStore.inStateDir(dir);
    expect((await check.getJob('abc123'))!.cancel_requested).toBe(true);
    expect((await check.events('abc123')).filter((e) => e.reason === 'cancel requested')).toHaveLength(1);
    await check.close();
    const missing = await runCli(['jobs', 'status', 'nope', '--state-dir', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No job "nope"/);
  });

  it('jobd refuses to run beside another supervisor of the same state directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobs-cli-'));
    const store = SqliteJobStore.inStateDir(dir);
    expect(await store.acquireLease(SUPERVISOR_LEASE, 'other-host:1', 600, Date.now() / 1000)).not.toBeNull();
    await store.close();
    const r = await runCli(['jobd', '--state-dir', dir, '--api-url', 'http://127.0.0.1:9'], { VAST_API_KEY: 'test-key-123456' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('another jobs supervisor holds the lock for this state directory; exiting\n');
  });
});
