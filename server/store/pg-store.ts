import { createRequire } from 'node:module';
import type * as PgTypes from 'pg';
import { VastMcpError } from '../errors.js';
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
import { PG_SCHEMA_AUDIT, PG_SCHEMA_RESERVATIONS, PG_SCHEMA_V1, PG_SCHEMA_V2_FROM_V1 } from './pg-schema.js';

type Row = Record<string, unknown>;
/** A statement inside a transaction of the shared store. */
export type StoreQuery = (sql: string, values?: unknown[]) => Promise<Row[]>;
type Q = StoreQuery;

/** The password of a postgres:// URL, to register as a secret (redacted from logs and errors). */
export function storeUrlPassword(url: string): string | null {
  try {
    const p = new URL(url).password;
    return p ? decodeURIComponent(p) : null;
  } catch {
    return null;
  }
}

/** The URL with its password replaced, for messages. */
export function redactStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

// bigint (20) and numeric (1700) as numbers: ids, sizes and offsets stay far below 2^53.
const NUMERIC_OIDS = new Set([20, 1700]);

function toJob(r: Row): JobRow {
  return { ...(r as unknown as JobRow), spec: JSON.parse(r.spec as string) };
}

function setClause(patch: Record<string, unknown>, from: number): { sql: string; values: unknown[] } {
  const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
  return { sql: keys.map((k, i) => `${k} = $${from + i}`).join(', '), values: keys.map((k) => patch[k]) };
}

/** A store out of reach (refused, unreachable, timed out, shut down), as opposed to a statement it refused. */
function unreachable(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^E[A-Z_]+$/.test(code) || code.startsWith('08') || code.startsWith('57P'))) return code;
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connect ETIMEDOUT/i.test(msg) ? 'timeout' : null;
}

/** The shared store cannot be reached: a clear, known error (never an "internal error"), with no address or password in it. */
export class StoreUnavailable extends VastMcpError {
  constructor(
    readonly reason: string,
    /** What it means for this call (a caller that knows says what was not done). */
    consequence = 'so this call stopped there.',
  ) {
    super(
      `The shared store (VAST_MCP_STORE_URL) cannot be reached right now (${reason}), ${consequence} Ask the operator to check the database, then try again.`,
      'store_unavailable',
    );
    this.name = 'StoreUnavailable';
  }
}

function clear(e: unknown): unknown {
  const why = e instanceof StoreUnavailable ? null : unreachable(e);
  return why ? new StoreUnavailable(why) : e;
}

/** Serialization failures and deadlocks are retried: the transaction changed nothing. */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * The shared jobs store for a team: PostgreSQL through a pool. Several supervisors (and replicas)
 * write at once, so every fenced write locks its lease row (FOR SHARE: a takeover waits until the
 * write commits) and checks the epoch in the same transaction; per-job sequence numbers are taken
 * under the job row's lock (FOR UPDATE). Lock order is always lease, then job.
 */
export class PgJobStore implements JobStore {
  private readonly pool: PgTypes.Pool;
  private ready: Promise<void> | null = null;

  constructor(connectionString: string, opts: { max?: number } = {}) {
    // Loaded here, not at import: only a team setup needs the driver.
    const pg = createRequire(import.meta.url)('pg') as typeof PgTypes;
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        NUMERIC_OIDS.has(oid) ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
    };
    // Deadlines: a store that drops packets must not hold a call (or the mirror queue behind it) until TCP gives up.
    this.pool = new pg.Pool({
      connectionString,
      max: opts.max ?? 5,
      types,
      connectionTimeoutMillis: 5_000,
      query_timeout: 30_000,
    } as PgTypes.PoolConfig);
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  /** Creates the tables once (idempotent; concurrent first starts are serialized by an advisory lock). */
  init(): Promise<void> {
    this.ready ??= this.run(async (q) => {
      await q('SELECT pg_advisory_xact_lock(715517)');
      await q(PG_SCHEMA_V1);
      await q(PG_SCHEMA_V2_FROM_V1);
      await q(PG_SCHEMA_AUDIT);
      await q(PG_SCHEMA_RESERVATIONS);
    }).catch((e: unknown) => {
      // A store out of reach at the first call (a replica starting before its database) is tried again next time.
      this.ready = null;
      throw clear(e);
    });
    return this.ready;
  }

  private async run<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect().catch((e: unknown) => {
        throw clear(e);
      });
      const q: Q = async (sql, values) => (await client.query(sql, values as unknown[])).rows as Row[];
      try {
        await client.query('BEGIN');
        const out = await fn(q);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt < 5 && RETRYABLE.has((e as { code?: string }).code ?? '')) continue;
        throw clear(e);
      } finally {
        client.release();
      }
    }
  }

  private async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    await this.init();
    return this.run(fn);
  }

  private async read(sql: string, values: unknown[] = []): Promise<Row[]> {
    await this.init();
    try {
      return (await this.pool.query(sql, values)).rows as Row[];
    } catch (e) {
      throw clear(e);
    }
  }

  /**
   * One transaction on the shared store (schema ensured first), for the other records kept there: committed when
   * `fn` resolves, rolled back when it throws (its error passed on; an unreachable store as StoreUnavailable).
   * Retried on a serialization failure or deadlock, so `fn` must be safe to run again.
   */
  transaction<T>(fn: (q: StoreQuery) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }

  /** One statement on the shared store (schema ensured first), for the other records kept there (confirmations). */
  async exec(sql: string, values: unknown[] = []): Promise<Row[]> {
    return this.read(sql, values);
  }

  private async checkFence(q: Q, name: string, fence: Fence): Promise<void> {
    const [r] = await q('SELECT owner, epoch FROM leases WHERE name = $1 FOR SHARE', [name]);
    if (!r || r.owner !== fence.owner || r.epoch !== fence.epoch) throw new LeaseLost(name);
  }

  private async lockJob(q: Q, id: string): Promise<JobRow | null> {
    const [r] = await q('SELECT * FROM jobs WHERE id = $1 FOR UPDATE', [id]);
    return r ? toJob(r) : null;
  }

  private async event(q: Q, jobId: string, from: string | null, to: string, reason: string, at: number, epoch: number | null): Promise<void> {
    await q(
      'INSERT INTO events (job_id, seq, at, from_state, to_state, reason, epoch) SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM events WHERE job_id = $1',
      [jobId, at, from, to, reason, epoch],
    );
  }

  acquireLease(name: string, owner: string, ttlSeconds: number, now: number): Promise<Fence | null> {
    return this.tx(async (q) => {
      await q('INSERT INTO leases (name, owner, epoch, expires_at) VALUES ($1, $2, 0, 0) ON CONFLICT (name) DO NOTHING', [name, owner]);
      const [r] = await q('SELECT owner, epoch, expires_at FROM leases WHERE name = $1 FOR UPDATE', [name]);
      const cur = r as { owner: string; epoch: number; expires_at: number };
      if (cur.owner !== owner && cur.expires_at > now) return null;
      // Same owner renewing keeps its epoch (a fresh row starts at 1); a new owner bumps it.
      const epoch = cur.owner === owner && cur.epoch > 0 ? cur.epoch : cur.epoch + 1;
      await q('UPDATE leases SET owner = $2, epoch = $3, expires_at = $4 WHERE name = $1', [name, owner, epoch, now + ttlSeconds]);
      return { owner, epoch };
    });
  }

  async releaseLease(name: string, fence: Fence): Promise<void> {
    await this.read('UPDATE leases SET expires_at = 0 WHERE name = $1 AND owner = $2 AND epoch = $3', [name, fence.owner, fence.epoch]);
  }

  async leaseHolder(name: string, now: number): Promise<{ owner: string; epoch: number; expires_at: number } | null> {
    const [r] = await this.read('SELECT owner, epoch, expires_at FROM leases WHERE name = $1 AND epoch > 0', [name]);
    const h = r as { owner: string; epoch: number; expires_at: number } | undefined;
    return h && h.expires_at > now ? h : null;
  }

  createJob(job: { id: string; name: string; spec: unknown; now: number }, approval: { binding: string } | null): Promise<JobRow> {
    return this.tx(async (q) => {
      await q('INSERT INTO jobs (id, name, spec, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)', [
        job.id,
        job.name,
        JSON.stringify(job.spec),
        'SUBMITTED',
        job.now,
      ]);
      await this.event(q, job.id, null, 'SUBMITTED', 'submitted and confirmed by the user', job.now, null);
      if (approval)
        await q('INSERT INTO approvals (job_id, kind, binding, granted_at) VALUES ($1, $2, $3, $4)', [job.id, 'teardown', approval.binding, job.now]);
      return toJob((await q('SELECT * FROM jobs WHERE id = $1', [job.id]))[0]!);
    });
  }

  async getJob(id: string): Promise<JobRow | null> {
    const [r] = await this.read('SELECT * FROM jobs WHERE id = $1', [id]);
    return r ? toJob(r) : null;
  }

  async listJobs(filter: { active?: boolean } = {}): Promise<JobRow[]> {
    const rows = (await this.read('SELECT * FROM jobs ORDER BY created_at, id')).map(toJob);
    return filter.active ? rows.filter((j) => !isTerminal(j.state)) : rows;
  }

  private async patchJob(q: Q, id: string, patch: Record<string, unknown>): Promise<JobRow> {
    const { sql, values } = setClause(patch, 2);
    const [r] = await q(`UPDATE jobs SET ${sql} WHERE id = $1 RETURNING *`, [id, ...values]);
    if (!r) throw new Error(`no job ${id}`);
    return toJob(r);
  }

  transition(fence: Fence, id: string, to: JobState, reason: string, now: number, patch: JobPatch = {}): Promise<JobRow> {
    return this.tx(async (q) => {
      await this.checkFence(q, `job:${id}`, fence);
      const job = await this.lockJob(q, id);
      if (!job) throw new Error(`no job ${id}`);
      assertTransition(job.state, to);
      const after = await this.patchJob(q, id, { ...patch, state: to, updated_at: now });
      await this.event(q, id, job.state, to, reason, now, fence.epoch);
      return after;
    });
  }

  updateJob(fence: Fence, id: string, patch: JobPatch, now: number): Promise<JobRow> {
    return this.tx(async (q) => {
      await this.checkFence(q, `job:${id}`, fence);
      return this.patchJob(q, id, { ...patch, updated_at: now });
    });
  }

  requestCancel(id: string, now: number): Promise<JobRow | null> {
    return this.tx(async (q) => {
      const job = await this.lockJob(q, id);
      if (!job) return null;
      if (job.cancel_requested || isTerminal(job.state)) return job;
      const after = await this.patchJob(q, id, { cancel_requested: true, updated_at: now });
      await this.event(q, id, job.state, job.state, 'cancel requested', now, null);
      return after;
    });
  }

  addAttempt(fence: Fence, a: Omit<AttemptRow, 'n' | 'cost_usd' | 'suspect_since' | 'log_offset' | 'ended_at' | 'started_at'>): Promise<AttemptRow> {
    return this.tx(async (q) => {
      await this.checkFence(q, `job:${a.job_id}`, fence);
      if (!(await this.lockJob(q, a.job_id))) throw new Error(`no job ${a.job_id}`);
      const [r] = await q(
        `INSERT INTO attempts (job_id, n, label, state, offer_id, machine_id, instance_id, price_per_hour)
         SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3, $4, $5, $6, $7 FROM attempts WHERE job_id = $1 RETURNING *`,
        [a.job_id, a.label, a.state, a.offer_id, a.machine_id, a.instance_id, a.price_per_hour],
      );
      return r as unknown as AttemptRow;
    });
  }

  updateAttempt(fence: Fence, jobId: string, n: number, patch: AttemptPatch): Promise<AttemptRow> {
    return this.tx(async (q) => {
      await this.checkFence(q, `job:${jobId}`, fence);
      const { sql, values } = setClause(patch, 3);
      const [r] = sql
        ? await q(`UPDATE attempts SET ${sql} WHERE job_id = $1 AND n = $2 RETURNING *`, [jobId, n, ...values])
        : await q('SELECT * FROM attempts WHERE job_id = $1 AND n = $2', [jobId, n]);
      return r as unknown as AttemptRow;
    });
  }

  async attempts(jobId: string): Promise<AttemptRow[]> {
    return (await this.read('SELECT * FROM attempts WHERE job_id = $1 ORDER BY n', [jobId])) as unknown as AttemptRow[];
  }

  async events(jobId: string): Promise<JobEvent[]> {
    return (await this.read('SELECT job_id, seq, at, from_state, to_state, reason FROM events WHERE job_id = $1 ORDER BY seq', [
      jobId,
    ])) as unknown as JobEvent[];
  }

  async appendLogs(fence: Fence, jobId: string, attempt: number, at: number, lines: string[]): Promise<void> {
    if (!lines.length) return;
    await this.tx(async (q) => {
      await this.checkFence(q, `job:${jobId}`, fence);
      await this.lockJob(q, jobId);
      const [m] = await q('SELECT COALESCE(MAX(seq), 0) AS m FROM logs WHERE job_id = $1', [jobId]);
      const first = Number(m!.m) + 1;
      await q(
        'INSERT INTO logs (job_id, seq, attempt, at, line) SELECT $1, $2 + o - 1, $3, $4, l FROM unnest($5::text[]) WITH ORDINALITY AS t(l, o)',
        [jobId, first, attempt, at, lines],
      );
    });
  }

  async logs(jobId: string, afterSeq: number, limit: number): Promise<LogLine[]> {
    return (await this.read('SELECT * FROM logs WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
      jobId,
      afterSeq,
      limit,
    ])) as unknown as LogLine[];
  }

  async approval(jobId: string): Promise<Approval | null> {
    const [r] = await this.read(`SELECT * FROM approvals WHERE job_id = $1 AND kind = 'teardown'`, [jobId]);
    return (r as Approval | undefined) ?? null;
  }

  revokeApproval(jobId: string, now: number): Promise<boolean> {
    return this.tx(async (q) => {
      const job = await this.lockJob(q, jobId);
      const r = await q(`UPDATE approvals SET revoked_at = $2 WHERE job_id = $1 AND kind = 'teardown' AND revoked_at IS NULL RETURNING job_id`, [
        jobId,
        now,
      ]);
      if (r.length)
        await this.event(q, jobId, job?.state ?? null, job?.state ?? 'SUBMITTED', 'standing teardown approval revoked by the user', now, null);
      return r.length > 0;
    });
  }

  async recordArtifact(fence: Fence, a: Artifact): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(a.sha256)) throw new Error('refusing to record an artifact without a sha256');
    await this.tx(async (q) => {
      await this.checkFence(q, `job:${a.job_id}`, fence);
      await q(
        `INSERT INTO artifacts (job_id, remote_path, destination, size, sha256, attempt, verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (job_id, remote_path, destination) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
         attempt = excluded.attempt, verified_at = excluded.verified_at`,
        [a.job_id, a.remote_path, a.destination, a.size, a.sha256, a.attempt, a.verified_at],
      );
    });
  }

  async artifacts(jobId: string): Promise<Artifact[]> {
    return (await this.read('SELECT * FROM artifacts WHERE job_id = $1 ORDER BY remote_path, destination', [jobId])) as unknown as Artifact[];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
