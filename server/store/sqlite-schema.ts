/** Version 1 of the jobs store (SQLite). Times are epoch seconds; JSON columns are text. */
export const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY, owner TEXT NOT NULL, epoch INTEGER NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT,
  recoveries INTEGER NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0, waiting_for TEXT,
  last_heartbeat REAL, checkpoint_step INTEGER, checkpoint_path TEXT, spent_usd REAL NOT NULL DEFAULT 0,
  created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
  job_id TEXT NOT NULL REFERENCES jobs(id), n INTEGER NOT NULL, label TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
  offer_id INTEGER, machine_id INTEGER, instance_id INTEGER, price_per_hour REAL, started_at REAL, ended_at REAL,
  cost_usd REAL NOT NULL DEFAULT 0, suspect_since REAL, log_offset INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, n)
);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, from_state TEXT, to_state TEXT NOT NULL,
  reason TEXT NOT NULL, epoch INTEGER, PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS approvals (
  job_id TEXT NOT NULL, kind TEXT NOT NULL, binding TEXT NOT NULL, granted_at REAL NOT NULL, revoked_at REAL,
  PRIMARY KEY (job_id, kind)
);
CREATE TABLE IF NOT EXISTS logs (
  job_id TEXT NOT NULL, seq INTEGER NOT NULL, attempt INTEGER NOT NULL, at REAL NOT NULL, line TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS artifacts (
  job_id TEXT NOT NULL, remote_path TEXT NOT NULL, destination TEXT NOT NULL, size INTEGER NOT NULL,
  sha256 TEXT NOT NULL, attempt INTEGER NOT NULL, verified_at REAL NOT NULL, PRIMARY KEY (job_id, remote_path)
);
`;

/**
 * Version 2: an output may be verified at two destinations (a local directory and S3), so an artifact is
 * keyed by its destination too. SQLite cannot change a primary key in place: the table is rebuilt.
 */
export const SCHEMA_V2_FROM_V1 = `
CREATE TABLE artifacts_v2 (
  job_id TEXT NOT NULL, remote_path TEXT NOT NULL, destination TEXT NOT NULL, size INTEGER NOT NULL,
  sha256 TEXT NOT NULL, attempt INTEGER NOT NULL, verified_at REAL NOT NULL, PRIMARY KEY (job_id, remote_path, destination)
);
INSERT INTO artifacts_v2 SELECT job_id, remote_path, destination, size, sha256, attempt, verified_at FROM artifacts;
DROP TABLE artifacts;
ALTER TABLE artifacts_v2 RENAME TO artifacts;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
`;
