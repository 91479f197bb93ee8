import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allowedFrom, assertTransition, canTransition, IllegalTransition, JOB_STATES, TERMINAL_STATES } from '../../server/jobs/state-machine.js';
import { LeaseLost } from '../../server/store/job-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';

const dirs: string[] = [];
function freshStore(): { store: SqliteJobStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'jobs-store-'));
  dirs.push(dir);
  const path = join(dir, 'jobs.sqlite');
  return { store: new SqliteJobStore(path), path };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('job state machine', () => {
  it.each([
    ['SUBMITTED', 'PROVISIONING', true],
    ['PROVISIONING', 'RUNNING', true],
    ['RUNNING', 'RECOVERING', true],
    ['RECOVERING', 'RUNNING', true],
    ['RUNNING', 'FINALIZING', true],
    ['FINALIZING', 'TEARDOWN', true],
    ['TEARDOWN', 'succeeded', true],
    ['TEARDOWN', 'budget_exhausted', true],
    ['TEARDOWN', 'awaiting_user', true],
    ['awaiting_user', 'TEARDOWN', true],
    ['RUNNING', 'succeeded', false],
    ['RUNNING', 'TEARDOWN', false],
    ['PROVISIONING', 'cancelled', false],
    ['FINALIZING', 'succeeded', false],
    ['succeeded', 'RUNNING', false],
    ['cancelled', 'SUBMITTED', false],
  ] as const)('%s → %s allowed: %s', (from, to, ok) => {
    expect(canTransition(from, to)).toBe(ok);
    if (!ok) expect(() => assertTransition(from, to)).toThrow(IllegalTransition);
  });

  it('has no way out of a terminal state and a way to a terminal state from every other state', async () => {
    for (const s of TERMINAL_STATES) expect(allowedFrom(s)).toEqual([]);
    const reach = (s: (typeof JOB_STATES)[number], seen = new Set<string>()): boolean => {
      if (TERMINAL_STATES.includes(s)) return true;
      seen.add(s);
      return allowedFrom(s).some((n) => !seen.has(n) && reach(n, seen));
    };
    for (const s of JOB_STATES) expect(reach(s)).toBe(true);
  });

  it('never reaches an ending from a state that may hold a rental without passing TEARDOWN', async () => {
    for (const s of ['PROVISIONING', 'RUNNING', 'RECOVERING', 'FINALIZING'] as const) {
      for (const end of TERMINAL_STATES) expect(canTransition(s, end)).toBe(false);
    }
  });
});

describe('SQLite job store', () => {
  it('uses WAL and records every transition as an event with its reason', async () => {
    const { store } = freshStore();
    await store.createJob({ id: 'j1', name: 'train', spec: { a: 1 }, now: 100 }, { binding: 'b1' });
    const fence = (await store.acquireLease('job:j1', 'sup-A', 30, 100))!;
    await store.transition(fence, 'j1', 'PROVISIONING', 'budget ok', 101);
    await store.transition(fence, 'j1', 'RUNNING', 'instance 7 running', 102);
    expect((await store.getJob('j1'))!.state).toBe('RUNNING');
    expect((await store.events('j1')).map((e) => [e.from_state, e.to_state, e.reason])).toEqual([
      [null, 'SUBMITTED', 'submitted and confirmed by the user'],
      ['SUBMITTED', 'PROVISIONING', 'budget ok'],
      ['PROVISIONING', 'RUNNING', 'instance 7 running'],
    ]);
    await expect(store.transition(fence, 'j1', 'succeeded', 'skip teardown', 103)).rejects.toThrow(IllegalTransition);
    expect((await store.getJob('j1'))!.state).toBe('RUNNING');
    expect(await store.approval('j1')).toMatchObject({ binding: 'b1', revoked_at: null });
    expect(await store.revokeApproval('j1', 104)).toBe(true);
    expect(await store.revokeApproval('j1', 105)).toBe(false);
    expect((await store.approval('j1'))!.revoked_at).toBe(104);
    await store.close();
  });

  it('fences a supervisor that lost its lease: its writes change nothing', async () => {
    const { store, path } = freshStore();
    await store.createJob({ id: 'j2', name: 'x', spec: {}, now: 0 }, null);
    const a = (await store.acquireLease('job:j2', 'sup-A', 30, 0))!;
    expect(a.epoch).toBe(1);
    expect(await store.acquireLease('job:j2', 'sup-B', 30, 10)).toBeNull();
    // A second process opening the same file sees the same lease.
    const other = new SqliteJobStore(path);
    const b = (await other.acquireLease('job:j2', 'sup-B', 30, 31))!;
    expect(b.epoch).toBe(2);
    await expect(store.transition(a, 'j2', 'PROVISIONING', 'stale supervisor woke up', 32)).rejects.toThrow(LeaseLost);
    await expect(
      store.addAttempt(a, { job_id: 'j2', label: 'x-a1', state: 'intent', offer_id: 1, machine_id: 2, instance_id: null, price_per_hour: 0.3 }),
    ).rejects.toThrow(LeaseLost);
    expect((await store.getJob('j2'))!.state).toBe('SUBMITTED');
    expect(await store.attempts('j2')).toEqual([]);
    await other.transition(b, 'j2', 'PROVISIONING', 'new owner', 33);
    // Renewal by the owner keeps the epoch.
    expect((await other.acquireLease('job:j2', 'sup-B', 30, 40))!.epoch).toBe(2);
    expect((await store.getJob('j2'))!.state).toBe('PROVISIONING');
    await other.close();
    await store.close();
  });

  it('keeps attempts with unique labels, logs with a cursor and verified artifacts', async () => {
    const { store } = freshStore();
    await store.createJob({ id: 'j3', name: 'x', spec: {}, now: 0 }, null);
    const f = (await store.acquireLease('job:j3', 'me', 30, 0))!;
    const a1 = await store.addAttempt(f, {
      job_id: 'j3',
      label: 'ada-j3-a1',
      state: 'intent',
      offer_id: 1,
      machine_id: 2,
      instance_id: null,
      price_per_hour: 0.3,
    });
    expect(a1.n).toBe(1);
    await expect(
      store.addAttempt(f, { job_id: 'j3', label: 'ada-j3-a1', state: 'intent', offer_id: 1, machine_id: 2, instance_id: null, price_per_hour: 0.3 }),
    ).rejects.toThrow(/UNIQUE/);
    await store.updateAttempt(f, 'j3', 1, { state: 'rented', instance_id: 99 });
    expect((await store.attempts('j3'))[0]).toMatchObject({ state: 'rented', instance_id: 99 });
    await store.appendLogs(f, 'j3', 1, 5, ['one', 'two', 'three']);
    expect((await store.logs('j3', 0, 2)).map((l) => l.line)).toEqual(['one', 'two']);
    expect((await store.logs('j3', 2, 10)).map((l) => [l.seq, l.line])).toEqual([[3, 'three']]);
    await expect(
      store.recordArtifact(f, {
        job_id: 'j3',
        remote_path: '/workspace/out/a',
        destination: '/x',
        size: 1,
        sha256: 'nope',
        attempt: 1,
        verified_at: 9,
      }),
    ).rejects.toThrow(/sha256/);
    await store.recordArtifact(f, {
      job_id: 'j3',
      remote_path: '/workspace/out/a',
      destination: '/x',
      size: 1,
      sha256: 'a'.repeat(64),
      attempt: 1,
      verified_at: 9,
    });
    expect(await store.artifacts('j3')).toHaveLength(1);
    expect((await store.requestCancel('j3', 10))!.cancel_requested).toBe(true);
    expect((await store.requestCancel('j3', 11))!.cancel_requested).toBe(true);
    expect((await store.events('j3')).filter((e) => e.reason === 'cancel requested')).toHaveLength(1);
    await store.close();
  });
});
