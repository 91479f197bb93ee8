import type { JobState } from '../jobs/state-machine.js';

/** A supervisor's right to act on one job: stale epochs are refused by the store (fencing). */
export interface Fence {
  owner: string;
  epoch: number;
}

export class LeaseLost extends Error {
  constructor(what: string) {
    super(`lease lost: ${what} (another supervisor now drives it)`);
  }
}

export type AttemptState = 'intent' | 'sent' | 'rented' | 'running' | 'lost' | 'stopped' | 'destroyed' | 'abandoned';

export interface JobRow {
  id: string;
  name: string;
  /** The validated submit arguments (JSON), fixed for the life of the job. */
  spec: unknown;
  state: JobState;
  /** What the job is heading for once FINALIZING/TEARDOWN are done. */
  outcome: 'succeeded' | 'failed' | 'cancelled' | 'budget_exhausted' | null;
  recoveries: number;
  cancel_requested: boolean;
  waiting_for: string | null;
  last_heartbeat: number | null;
  /** Last checkpoint step copied off the instance and verified. */
  checkpoint_step: number | null;
  checkpoint_path: string | null;
  spent_usd: number;
  created_at: number;
  updated_at: number;
}

export interface AttemptRow {
  job_id: string;
  n: number;
  /** Unique per attempt: how a rental whose answer was lost is found again. */
  label: string;
  state: AttemptState;
  offer_id: number | null;
  machine_id: number | null;
  instance_id: number | null;
  price_per_hour: number | null;
  started_at: number | null;
  ended_at: number | null;
  /** Cost accrued by this attempt so far (USD), from the platform's own fields. */
  cost_usd: number;
  /** First reading that looked like the instance was lost (confirmed by a second one later). */
  suspect_since: number | null;
  log_offset: number;
}

export interface JobEvent {
  job_id: string;
  seq: number;
  at: number;
  from_state: string | null;
  to_state: string;
  reason: string;
}

export interface Approval {
  job_id: string;
  kind: 'teardown';
  binding: string;
  granted_at: number;
  revoked_at: number | null;
}

export interface LogLine {
  job_id: string;
  seq: number;
  attempt: number;
  at: number;
  line: string;
}

export interface Artifact {
  job_id: string;
  remote_path: string;
  destination: string;
  size: number;
  sha256: string;
  attempt: number;
  verified_at: number;
}

export type JobPatch = Partial<Omit<JobRow, 'id' | 'name' | 'spec' | 'created_at' | 'state'>>;
export type AttemptPatch = Partial<Omit<AttemptRow, 'job_id' | 'n' | 'label'>>;

/**
 * Everything that gates money and data for jobs. Every write that drives a job takes the fence of
 * the lease it was granted; a write with a stale epoch throws LeaseLost and changes nothing.
 * Implemented by SQLite (embedded default); a PostgreSQL store follows the same interface.
 */
export interface JobStore {
  /** A named lease (`jobd`, `job:<id>`): the epoch grows each time the owner changes. Null while another holds it. */
  acquireLease(name: string, owner: string, ttlSeconds: number, now: number): Promise<Fence | null>;
  releaseLease(name: string, fence: Fence): Promise<void>;
  leaseHolder(name: string, now: number): Promise<{ owner: string; epoch: number; expires_at: number } | null>;

  createJob(job: { id: string; name: string; spec: unknown; now: number }, approval: { binding: string } | null): Promise<JobRow>;
  getJob(id: string): Promise<JobRow | null>;
  listJobs(filter?: { active?: boolean }): Promise<JobRow[]>;
  /** Moves a job to `to` (checked against the state machine) and records the event with its reason. */
  transition(fence: Fence, id: string, to: JobState, reason: string, now: number, patch?: JobPatch): Promise<JobRow>;
  updateJob(fence: Fence, id: string, patch: JobPatch, now: number): Promise<JobRow>;
  /** Not fenced: a person or the chat may ask for a cancel at any time; the supervisor acts on it. */
  requestCancel(id: string, now: number): Promise<JobRow | null>;

  addAttempt(
    fence: Fence,
    attempt: Omit<AttemptRow, 'n' | 'cost_usd' | 'suspect_since' | 'log_offset' | 'ended_at' | 'started_at'>,
  ): Promise<AttemptRow>;
  updateAttempt(fence: Fence, jobId: string, n: number, patch: AttemptPatch): Promise<AttemptRow>;
  attempts(jobId: string): Promise<AttemptRow[]>;

  events(jobId: string): Promise<JobEvent[]>;
  appendLogs(fence: Fence, jobId: string, attempt: number, at: number, lines: string[]): Promise<void>;
  logs(jobId: string, afterSeq: number, limit: number): Promise<LogLine[]>;

  approval(jobId: string): Promise<Approval | null>;
  revokeApproval(jobId: string, now: number): Promise<boolean>;

  recordArtifact(fence: Fence, a: Artifact): Promise<void>;
  artifacts(jobId: string): Promise<Artifact[]>;

  close(): Promise<void>;
}
