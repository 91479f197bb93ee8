/**
 * Version 1 of the shared jobs store (PostgreSQL), the same tables as the SQLite one (sqlite-schema.ts).
 * Times are epoch seconds (double precision); ids that the platform hands out are bigint.
 */
export const PG_SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, epoch INTEGER NOT NULL, expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT,
  recoveries INTEGER NOT NULL DEFAULT 0, cancel_requested BOOLEAN NOT NULL DEFAULT FALSE, waiting_for TEXT,
  last_heartbeat DOUBLE PRECISION, checkpoint_step INTEGER, checkpoint_path TEXT,
  spent_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
  created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
  job_id TEXT NOT NULL REFERENCES jobs(id), n INTEGER NOT NULL, label TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
  offer_id BIGINT, machine_id BIGINT, instance_id BIGINT, price_per_hour DOUBLE PRECISION,
  started_at DOUBLE PRECISION, ended_at DOUBLE PRECISION, cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
  suspect_since DOUBLE PRECISION, log_offset BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (job_id, n)
);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL, seq INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL, from_state TEXT, to_state TEXT NOT NULL,
  reason TEXT NOT NULL, epoch INTEGER, PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS approvals (
  job_id TEXT NOT NULL, kind TEXT NOT NULL, binding TEXT NOT NULL, granted_at DOUBLE PRECISION NOT NULL,
  revoked_at DOUBLE PRECISION, PRIMARY KEY (job_id, kind)
);
CREATE TABLE IF NOT EXISTS logs (
  job_id TEXT NOT NULL, seq INTEGER NOT NULL, attempt INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL, line TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS artifacts (
  job_id TEXT NOT NULL, remote_path TEXT NOT NULL, destination TEXT NOT NULL, size BIGINT NOT NULL,
  sha256 TEXT NOT NULL, attempt INTEGER NOT NULL, verified_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (job_id, remote_path)
);
CREATE TABLE IF NOT EXISTS confirmations (
  token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, binding TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL, payload TEXT NOT NULL
);
ALTER TABLE confirmations ADD COLUMN IF NOT EXISTS claimed_by TEXT;
ALTER TABLE confirmations ADD COLUMN IF NOT EXISTS claimed_at DOUBLE PRECISION;
CREATE TABLE IF NOT EXISTS declined_plans (plan TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS verified_copies (
  digest TEXT PRIMARY KEY, instance_id BIGINT NOT NULL, remote_path TEXT NOT NULL, destination TEXT NOT NULL, size BIGINT NOT NULL,
  sha256 TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, platform TEXT, account TEXT
);
CREATE INDEX IF NOT EXISTS verified_copies_instance ON verified_copies (instance_id, at);
INSERT INTO meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;
`;

/** Version 2: an artifact is keyed by its destination too (an output verified locally and in S3 is two rows). */
export const PG_SCHEMA_V2_FROM_V1 = `
DO $$ BEGIN
  IF (SELECT value FROM meta WHERE key = 'schema_version') = '1' THEN
    ALTER TABLE artifacts DROP CONSTRAINT artifacts_pkey;
    ALTER TABLE artifacts ADD PRIMARY KEY (job_id, remote_path, destination);
    UPDATE meta SET value = '2' WHERE key = 'schema_version';
  END IF;
END $$;
`;

/**
 * The audit log of every replica (server/store/pg-audit.ts): each record is the exact JSON line of a
 * replica's audit file, keyed by its sha256 (mirrored twice, it is one row), read in the order of its
 * time, then of the file it came from (origin: the digest of its first line, which a rotation keeps) and
 * its place there (records of one millisecond stay in the order they were written). A cursor per audit
 * file says how far that file is mirrored.
 * Added tables only: a store of any earlier version gains them as it is, without a version step.
 */
export const PG_SCHEMA_AUDIT = `
CREATE TABLE IF NOT EXISTS audit_log (
  key TEXT PRIMARY KEY, at TEXT NOT NULL, origin TEXT NOT NULL, pos BIGINT NOT NULL, line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_order ON audit_log (at, origin, pos);
CREATE TABLE IF NOT EXISTS audit_cursors (file_id TEXT PRIMARY KEY, byte_offset BIGINT NOT NULL, tail TEXT NOT NULL);
`;

/**
 * Budget reservations of every replica (server/store/pg-reservations.ts): the records of the state
 * directory's reservations.jsonl (reserve, bind, release), one a row, in the order written (seq).
 * `until_at` (reserve rows) lets a read skip reservations whose window has ended. Added tables only.
 */
export const PG_SCHEMA_RESERVATIONS = `
CREATE TABLE IF NOT EXISTS budget_reservations (
  seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, until_at DOUBLE PRECISION, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS budget_reservations_id ON budget_reservations (id);
CREATE INDEX IF NOT EXISTS budget_reservations_until ON budget_reservations (until_at) WHERE type = 'reserve';
`;
