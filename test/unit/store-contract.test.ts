import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IllegalTransition } from '../../server/jobs/state-machine.js';
import { LeaseLost, type JobStore } from '../../server/store/job-store.js';
import { PgJobStore } from '../../server/store/pg-store.js';
import { SqliteJobStore } from '../../server/store/sqlite-store.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** Two connections to one fresh store: as two supervisors (or two replicas) on different machines see it. */
interface Backend {
  name: string;
  open(): Promise<{ a: JobStore; b: JobStore; done: () => Promise<void> }>;
}

let pg: TestPostgres;
const dirs: string[] = [];
beforeAll(async () => {
  pg = await startTestPostgres();
  // initdb and a first start are slow on a loaded machine.
}, 180_000);
afterAll(async () => {
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const backends: Backend[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
      dirs.push(dir);
      const a = new SqliteJobStore(join(dir, 'jobs.sqlite'));
      const b = new SqliteJobStore(join(dir, 'jobs.sqlite'));
      return { a, b, done: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  },
  {
    name: 'PostgreSQL 18',
    async open() {
      const url = await pg.newDatabase();
      const a = new PgJobStore(url);
      const b = new PgJobStore(url);
      return { a, b, done: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  },
];

const SHA = 'a'.repeat(64);
const attempt = (job_id: string, label: string) => ({
  job_id,
  label,
  state: 'intent' as const,
  offer_id: 1,
  machine_id: 2,
  instance_id: null,
  price_per_hour: 0.3,
});

describe.each(backends)('job store contract: $name', (backend) => {
  it('records every transition as an event with its reason, refuses illegal ones and revokes approvals once', async () => {
    const { a: store, done } = await backend.open();
    const created = await store.createJob({ id: 'j1', name: 'train', spec: { a: 1, nested: { b: [1, 2] } }, now: 100 }, { binding: 'b1' });
    expect(created).toMatchObject({ id: 'j1', state: 'SUBMITTED', cancel_requested: false, spec: { a: 1, nested: { b: [1, 2] } }, spent_usd: 0 });
    const fence = (await store.acquireLease('job:j1', 'sup-A', 30, 100))!;
    expect(fence).toEqual({ owner: 'sup-A', epoch: 1 });
    await store.transition(fence, 'j1', 'PROVISIONING', 'budget ok', 101);
    const running = await store.transition(fence, 'j1', 'RUNNING', 'instance 7 running', 102, { spent_usd: 0.25, waiting_for: null });
    expect(running).toMatchObject({ state: 'RUNNING', spent_usd: 0.25, updated_at: 102 });
    expect((await store.events('j1')).map((e) => [e.seq, e.from_state, e.to_state, e.reason])).toEqual([
      [1, null, 'SUBMITTED', 'submitted and confirmed by the user'],
      [2, 'SUBMITTED', 'PROVISIONING', 'budget ok'],
      [3, 'PROVISIONING', 'RUNNING', 'instance 7 running'],
    ]);
    await expect(store.transition(fence, 'j1', 'succeeded', 'skip teardown', 103)).rejects.toThrow(IllegalTransition);
    expect((await store.getJob('j1'))!.state).toBe('RUNNING');
    expect(await store.approval('j1')).toMatchObject({ binding: 'b1', revoked_at: null });
    expect(await store.revokeApproval('j1', 104)).toBe(true);
    expect(await store.revokeApproval('j1', 105)).toBe(false);
    expect((await store.approval('j1'))!.revoked_at).toBe(104);
    expect(await store.getJob('nope')).toBeNull();
    expect((await store.listJobs({ active: true })).map((j) => j.id)).toEqual(['j1']);
    await done();
  });

  it('keeps attempts with unique labels, logs with a cursor and only verified artifacts', async () => {
    const { a: store, done } = await backend.open();
    await store.createJob({ id: 'j3', name: 'x', spec: {}, now: 0 }, null);
    const f = (await store.acquireLease('job:j3', 'me', 30, 0))!;
    expect((await store.addAttempt(f, attempt('j3', 'l-a1'))).n).toBe(1);
    await expect(store.addAttempt(f, attempt('j3', 'l-a1'))).rejects.toThrow();
    expect((await store.addAttempt(f, attempt('j3', 'l-a2'))).n).toBe(2);
    const upd = await store.updateAttempt(f, 'j3', 1, { state: 'rented', instance_id: 123_456_789, log_offset: 5_000_000_000 });
    expect(upd).toMatchObject({ n: 1, state: 'rented', instance_id: 123_456_789, log_offset: 5_000_000_000, cost_usd: 0 });
    await store.appendLogs(f, 'j3', 1, 5, ['one', 'two', 'three']);
    expect((await store.logs('j3', 0, 2)).map((l) => l.line)).toEqual(['one', 'two']);
    expect((await store.logs('j3', 2, 10)).map((l) => [l.seq, l.line, l.attempt])).toEqual([[3, 'three', 1]]);
    await expect(
      store.recordArtifact(f, { job_id: 'j3', remote_path: '/o', destination: '/d', size: 1, sha256: 'nope', attempt: 1, verified_at: 1 }),
    ).rejects.toThrow(/sha256/);
    await store.recordArtifact(f, { job_id: 'j3', remote_path: '/o', destination: '/d', size: 1, sha256: SHA, attempt: 1, verified_at: 1 });
    // A later attempt's copy to the same destination replaces the earlier one; another destination (S3) is a row of its own.
    await store.recordArtifact(f, { job_id: 'j3', remote_path: '/o', destination: '/d', size: 2, sha256: SHA, attempt: 2, verified_at: 2 });
    await store.recordArtifact(f, { job_id: 'j3', remote_path: '/o', destination: 's3://b/o', size: 2, sha256: SHA, attempt: 2, verified_at: 3 });
    expect(await store.artifacts('j3')).toEqual([
      { job_id: 'j3', remote_path: '/o', destination: '/d', size: 2, sha256: SHA, attempt: 2, verified_at: 2 },
      { job_id: 'j3', remote_path: '/o', destination: 's3://b/o', size: 2, sha256: SHA, attempt: 2, verified_at: 3 },
    ]);
    await done();
  });

  it('two supervisors racing for one job lease: exactly one drives it, the other is refused every write', async () => {
    const { a, b, done } = await backend.open();
    await a.createJob({ id: 'race', name: 'x', spec: {}, now: 0 }, null);
    for (let round = 0; round < 10; round++) {
      const name = `job:race-${round}`;
      const [fa, fb] = await Promise.all([a.acquireLease(name, 'sup-A', 30, 1), b.acquireLease(name, 'sup-B', 30, 1)]);
      expect([fa, fb].filter((x) => x !== null)).toHaveLength(1);
    }
    const [fa, fb] = await Promise.all([a.acquireLease('job:race', 'sup-A', 30, 1), b.acquireLease('job:race', 'sup-B', 30, 1)]);
    const winner = fa ? { s: a, f: fa } : { s: b, f: fb! };
    const loser = fa ? { s: b, owner: 'sup-B' } : { s: a, owner: 'sup-A' };
    const forged = { owner: loser.owner, epoch: winner.f.epoch };
    await expect(loser.s.transition(forged, 'race', 'PROVISIONING', 'loser', 2)).rejects.toThrow(LeaseLost);
    await winner.s.transition(winner.f, 'race', 'PROVISIONING', 'winner', 2);
    expect((await loser.s.leaseHolder('job:race', 2))!.owner).toBe(winner.f.owner);
    expect((await a.events('race')).map((e) => e.reason)).toEqual(['submitted and confirmed by the user', 'winner']);
    await done();
  });

  it('a paused holder whose lease expired cannot write after another took it over (fencing epoch)', async () => {
    const { a, b, done } = await backend.open();
    await a.createJob({ id: 'j2', name: 'x', spec: {}, now: 0 }, null);
    const fa = (await a.acquireLease('job:j2', 'sup-A', 10, 0))!;
    await a.addAttempt(fa, attempt('j2', 'p-a1'));
    expect(await b.acquireLease('job:j2', 'sup-B', 10, 5)).toBeNull();
    // sup-A pauses (GC, SIGSTOP, laptop lid) past its lease; sup-B takes the job over.
    const fb = (await b.acquireLease('job:j2', 'sup-B', 10, 11))!;
    expect(fb.epoch).toBe(fa.epoch + 1);
    const before = { job: await a.getJob('j2'), attempts: await a.attempts('j2'), logs: await a.logs('j2', 0, 10) };
    await expect(a.transition(fa, 'j2', 'PROVISIONING', 'stale supervisor woke up', 12)).rejects.toThrow(LeaseLost);
    await expect(a.updateJob(fa, 'j2', { spent_usd: 9 }, 12)).rejects.toThrow(LeaseLost);
    await expect(a.addAttempt(fa, attempt('j2', 'p-a2'))).rejects.toThrow(LeaseLost);
    await expect(a.updateAttempt(fa, 'j2', 1, { state: 'abandoned' })).rejects.toThrow(LeaseLost);
    await expect(a.appendLogs(fa, 'j2', 1, 12, ['stale'])).rejects.toThrow(LeaseLost);
    await expect(
      a.recordArtifact(fa, { job_id: 'j2', remote_path: '/o', destination: '/d', size: 1, sha256: SHA, attempt: 1, verified_at: 1 }),
    ).rejects.toThrow(LeaseLost);
    // Re-acquiring while sup-B holds it is refused too: the old holder cannot renew its way back in.
    expect(await a.acquireLease('job:j2', 'sup-A', 10, 12)).toBeNull();
    expect({ job: await b.getJob('j2'), attempts: await b.attempts('j2'), logs: await b.logs('j2', 0, 10) }).toEqual(before);
    expect(await b.artifacts('j2')).toEqual([]);
    await b.transition(fb, 'j2', 'PROVISIONING', 'new owner', 13);
    expect((await b.acquireLease('job:j2', 'sup-B', 10, 14))!.epoch).toBe(fb.epoch);
    expect((await a.getJob('j2'))!.state).toBe('PROVISIONING');
    await done();
  });

  it('concurrent createJob, transitions, cancels and appendLogs from two connections stay consistent', async () => {
    const { a, b, done } = await backend.open();
    const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
    await Promise.all(ids.map((id, i) => (i % 2 ? a : b).createJob({ id, name: id, spec: { i }, now: i }, null)));
    const dup = await Promise.allSettled([
      a.createJob({ id: 'dup', name: 'd', spec: {}, now: 1 }, null),
      b.createJob({ id: 'dup', name: 'd', spec: {}, now: 1 }, null),
    ]);
    expect(dup.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await a.listJobs()).map((j) => j.id).sort()).toEqual([...ids, 'dup'].sort());
    const f = (await a.acquireLease('job:c0', 'sup', 60, 0))!;
    // One supervisor's log pulls and the chat's cancels land at once through both connections.
    await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).appendLogs(f, 'c0', 1, i, [`l${i}-1`, `l${i}-2`, `l${i}-3`])),
      a.requestCancel('c0', 5),
      b.requestCancel('c0', 5),
      a.transition(f, 'c0', 'PROVISIONING', 'go', 6),
    ]);
    const logs = await b.logs('c0', 0, 1000);
    expect(logs.map((l) => l.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    for (let i = 0; i < 8; i++) {
      const mine = logs.filter((l) => l.line.startsWith(`l${i}-`)).map((l) => l.seq);
      expect(mine[2]! - mine[0]!).toBe(2);
    }
    const events = await a.events('c0');
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.reason === 'cancel requested')).toHaveLength(1);
    expect(await b.getJob('c0')).toMatchObject({ state: 'PROVISIONING', cancel_requested: true });
    await done();
  });
});
