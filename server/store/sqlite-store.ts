import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { assertTransition, isTerminal, type JobState } from '../jobs/state-machine.js';
import {
  LeaseLost,
  type Approval,
  type Artifact,
  type AttemptPatch,
  type AttemptRow,
  type Fence,
  type JobEvent,
  type JobPatch,
  type JobRow,
  type JobStore,
  type LogLine,
} from './job-store.js';
import { SCHEMA_V1, SCHEMA_V2_FROM_V1 } from './sqlite-schema.js';

type Db = BetterSqlite3.Database;
type Row = Record<string, unknown>;

export const JOBS_DB_FILE = 'jobs.sqlite';

function toJob(r: Row): JobRow {
  return { ...(r as unknown as JobRow), spec: JSON.parse(r.spec as string), cancel_requested: r.cancel_requested === 1 };
}

function setClause(patch: Record<string, unknown>): { sql: string; values: unknown[] } {
  const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
  const values = keys.map((k) => (typeof patch[k] === 'boolean' ? (patch[k] ? 1 : 0) : patch[k]));
  return { sql: keys.map((k) => `${k} = ?`).join(', '), values };
}

/**
 * The embedded jobs store: one SQLite file in WAL mode in the state directory. Writes run in
 * IMMEDIATE transactions (one writer at a time across processes), each fenced writer first checks
 * that its lease epoch is still current, inside the same transaction.
 */
export class SqliteJobStore implements JobStore {
  private readonly db: Db;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Loaded here, not at import: the native module is only needed by processes that use jobs.
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA_V1);
    this.db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')`).run();
    // Checked inside the write lock: of two processes opening a version-1 store, one migrates it.
    this.db
      .transaction(() => {
        const version = this.db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string };
        if (version.value === '1') this.db.exec(SCHEMA_V2_FROM_V1);
      })
      .immediate();
  }

  static inStateDir(stateDir: string): SqliteJobStore {
    return new SqliteJobStore(join(stateDir, JOBS_DB_FILE));
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private checkFence(name: string, fence: Fence): void {
    const r = this.db.prepare('SELECT owner, epoch FROM leases WHERE name = ?').get(name) as { owner: string; epoch: number } | undefined;
    if (!r || r.owner !== fence.owner || r.epoch !== fence.epoch) throw new LeaseLost(name);
  }

  async acquireLease(name: string, owner: string, ttlSeconds: number, now: number): Promise<Fence | null> {
    return this.tx(() => {
      const r = this.db.prepare('SELECT owner, epoch, expires_at FROM leases WHERE name = ?').get(name) as
        | { owner: string; epoch: number; expires_at: number }
        | undefined;
      if (r && r.owner !== owner && r.expires_at > now) return null;
      // Same owner renewing keeps its epoch; a new owner (or a takeover after expiry) bumps it.
      const epoch = r ? (r.owner === owner ? r.epoch : r.epoch + 1) : 1;
      this.db
        .prepare(
          'INSERT INTO leases (name, owner, epoch, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, expires_at = excluded.expires_at',
        )
        .run(name, owner, epoch, now + ttlSeconds);
      return { owner, epoch };
    });
  }

  async releaseLease(name: string, fence: Fence): Promise<void> {
    this.db.prepare('UPDATE leases SET expires_at = 0 WHERE name = ? AND owner = ? AND epoch = ?').run(name, fence.owner, fence.epoch);
  }

  async leaseHolder(name: string, now: number): Promise<{ owner: string; epoch: number; expires_at: number } | null> {
    const r = this.db.prepare('SELECT owner, epoch, expires_at FROM leases WHERE name = ?').get(name) as
      | { owner: string; epoch: number; expires_at: number }
      | undefined;
    return r && r.expires_at > now ? r : null;
  }

  async createJob(job: { id: string; name: string; spec: unknown; now: number }, approval: { binding: string } | null): Promise<JobRow> {
    return this.tx(() => {
      this.db
        .prepare('INSERT INTO jobs (id, name, spec, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(job.id, job.name, JSON.stringify(job.spec), 'SUBMITTED', job.now, job.now);
      this.event(job.id, null, 'SUBMITTED', 'submitted and confirmed by the user', job.now, null);
      if (approval) {
        this.db
          .prepare('INSERT INTO approvals (job_id, kind, binding, granted_at) VALUES (?, ?, ?, ?)')
          .run(job.id, 'teardown', approval.binding, job.now);
      }
      return this.jobNow(job.id)!;
    });
  }

  private event(jobId: string, from: string | null, to: string, reason: string, at: number, epoch: number | null): void {
    const seq = ((this.db.prepare('SELECT MAX(seq) m FROM events WHERE job_id = ?').get(jobId) as { m: number | null }).m ?? 0) + 1;
    this.db
      .prepare('INSERT INTO events (job_id, seq, at, from_state, to_state, reason, epoch) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(jobId, seq, at, from, to, reason, epoch);
  }

  private jobNow(id: string): JobRow | null {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? toJob(r) : null;
  }

  async getJob(id: string): Promise<JobRow | null> {
    return this.jobNow(id);
  }

  async listJobs(filter: { active?: boolean } = {}): Promise<JobRow[]> {
    const rows = (this.db.prepare('SELECT * FROM jobs ORDER BY created_at, id').all() as Row[]).map(toJob);
    return filter.active ? rows.filter((j) => !isTerminal(j.state)) : rows;
  }

  async transition(fence: Fence, id: string, to: JobState, reason: string, now: number, patch: JobPatch = {}): Promise<JobRow> {
    return this.tx(() => {
      this.checkFence(`job:${id}`, fence);
      const job = this.jobNow(id);
      if (!job) throw new Error(`no job ${id}`);
      assertTransition(job.state, to);
      const { sql, values } = setClause({ ...patch, state: to, updated_at: now });
      this.db.prepare(`UPDATE jobs SET ${sql} WHERE id = ?`).run(...values, id);
      this.event(id, job.state, to, reason, now, fence.epoch);
      return this.jobNow(id)!;
    });
  }

  async updateJob(fence: Fence, id: string, patch: JobPatch, now: number): Promise<JobRow> {
    return this.tx(() => {
      this.checkFence(`job:${id}`, fence);
      const { sql, values } = setClause({ ...patch, updated_at: now });
      this.db.prepare(`UPDATE jobs SET ${sql} WHERE id = ?`).run(...values, id);
      return this.jobNow(id)!;
    });
  }

  async requestCancel(id: string, now: number): Promise<JobRow | null> {
    return this.tx(() => {
      const job = this.jobNow(id);
      if (!job) return null;
      if (!job.cancel_requested && !isTerminal(job.state)) {
        this.db.prepare('UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?').run(now, id);
        this.event(id, job.state, job.state, 'cancel requested', now, null);
      }
      return this.jobNow(id);
    });
  }

  async addAttempt(
    fence: Fence,
    a: Omit<AttemptRow, 'n' | 'cost_usd' | 'suspect_since' | 'log_offset' | 'ended_at' | 'started_at'>,
  ): Promise<AttemptRow> {
    return this.tx(() => {
      this.checkFence(`job:${a.job_id}`, fence);
      const n = ((this.db.prepare('SELECT MAX(n) m FROM attempts WHERE job_id = ?').get(a.job_id) as { m: number | null }).m ?? 0) + 1;
      this.db
        .prepare('INSERT INTO attempts (job_id, n, label, state, offer_id, machine_id, instance_id, price_per_hour) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(a.job_id, n, a.label, a.state, a.offer_id, a.machine_id, a.instance_id, a.price_per_hour);
      return this.attemptsNow(a.job_id).find((x) => x.n === n)!;
    });
  }

  async updateAttempt(fence: Fence, jobId: string, n: number, patch: AttemptPatch): Promise<AttemptRow> {
    return this.tx(() => {
      this.checkFence(`job:${jobId}`, fence);
      const { sql, values } = setClause(patch);
      if (sql) this.db.prepare(`UPDATE attempts SET ${sql} WHERE job_id = ? AND n = ?`).run(...values, jobId, n);
      return this.attemptsNow(jobId).find((x) => x.n === n)!;
    });
  }

  private attemptsNow(jobId: string): AttemptRow[] {
    return this.db.prepare('SELECT * FROM attempts WHERE job_id = ? ORDER BY n').all(jobId) as AttemptRow[];
  }

  async attempts(jobId: string): Promise<AttemptRow[]> {
    return this.attemptsNow(jobId);
  }

  async events(jobId: string): Promise<JobEvent[]> {
    return this.db.prepare('SELECT job_id, seq, at, from_state, to_state, reason FROM events WHERE job_id = ? ORDER BY seq').all(jobId) as JobEvent[];
  }

  async appendLogs(fence: Fence, jobId: string, attempt: number, at: number, lines: string[]): Promise<void> {
    if (!lines.length) return;
    this.tx(() => {
      this.checkFence(`job:${jobId}`, fence);
      let seq = (this.db.prepare('SELECT MAX(seq) m FROM logs WHERE job_id = ?').get(jobId) as { m: number | null }).m ?? 0;
      const ins = this.db.prepare('INSERT INTO logs (job_id, seq, attempt, at, line) VALUES (?, ?, ?, ?, ?)');
      for (const line of lines) ins.run(jobId, ++seq, attempt, at, line);
    });
  }

  async logs(jobId: string, afterSeq: number, limit: number): Promise<LogLine[]> {
    return this.db.prepare('SELECT * FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(jobId, afterSeq, limit) as LogLine[];
  }

  async approval(jobId: string): Promise<Approval | null> {
    return (this.db.prepare(`SELECT * FROM approvals WHERE job_id = ? AND kind = 'teardown'`).get(jobId) as Approval | undefined) ?? null;
  }

  async revokeApproval(jobId: string, now: number): Promise<boolean> {
    return this.tx(() => {
      const r = this.db.prepare(`UPDATE approvals SET revoked_at = ? WHERE job_id = ? AND kind = 'teardown' AND revoked_at IS NULL`).run(now, jobId);
      if (r.changes) {
        const job = this.jobNow(jobId);
        this.event(jobId, job?.state ?? null, job?.state ?? 'SUBMITTED', 'standing teardown approval revoked by the user', now, null);
      }
      return r.changes > 0;
    });
  }

  async recordArtifact(fence: Fence, a: Artifact): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(a.sha256)) throw new Error('refusing to record an artifact without a sha256');
    this.tx(() => {
      this.checkFence(`job:${a.job_id}`, fence);
      this.db
        .prepare(
          'INSERT OR REPLACE INTO artifacts (job_id, remote_path, destination, size, sha256, attempt, verified_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(a.job_id, a.remote_path, a.destination, a.size, a.sha256, a.attempt, a.verified_at);
    });
  }

  async artifacts(jobId: string): Promise<Artifact[]> {
    return this.db.prepare('SELECT * FROM artifacts WHERE job_id = ? ORDER BY remote_path, destination').all(jobId) as Artifact[];
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
