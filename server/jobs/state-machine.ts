/**
 * The job lifecycle. Pure: the table below is the only place that says which move is legal, and
 * the store refuses any other, so a bug in the supervisor cannot skip finalizing or teardown.
 */
export const JOB_STATES = [
  'SUBMITTED',
  'PROVISIONING',
  'RUNNING',
  'RECOVERING',
  'FINALIZING',
  'TEARDOWN',
  'awaiting_user',
  'succeeded',
  'failed',
  'cancelled',
  'budget_exhausted',
] as const;

export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'budget_exhausted'];

const ENDINGS: JobState[] = ['succeeded', 'failed', 'cancelled', 'budget_exhausted'];

const TABLE: Record<JobState, readonly JobState[]> = {
  // Nothing rented yet: a cancel or a refused budget ends the job at once.
  SUBMITTED: ['PROVISIONING', 'cancelled', 'failed', 'budget_exhausted'],
  // A rental may be in flight: every way out passes through TEARDOWN, which accounts for it.
  PROVISIONING: ['RUNNING', 'RECOVERING', 'TEARDOWN', 'awaiting_user'],
  RUNNING: ['RECOVERING', 'FINALIZING', 'awaiting_user'],
  RECOVERING: ['RUNNING', 'FINALIZING', 'TEARDOWN', 'awaiting_user'],
  FINALIZING: ['TEARDOWN', 'awaiting_user'],
  TEARDOWN: [...ENDINGS, 'awaiting_user'],
  // The user answered (approval granted, outputs fixed) or gave up.
  awaiting_user: ['FINALIZING', 'TEARDOWN', 'RECOVERING', ...ENDINGS],
  succeeded: [],
  failed: [],
  cancelled: [],
  budget_exhausted: [],
};

export class IllegalTransition extends Error {
  constructor(
    readonly from: JobState,
    readonly to: JobState,
  ) {
    super(`illegal job transition ${from} → ${to}`);
  }
}

export function isJobState(s: string): s is JobState {
  return (JOB_STATES as readonly string[]).includes(s);
}

export function isTerminal(s: JobState): boolean {
  return TERMINAL_STATES.includes(s);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return TABLE[from].includes(to);
}

export function assertTransition(from: JobState, to: JobState): void {
  if (!canTransition(from, to)) throw new IllegalTransition(from, to);
}

export function allowedFrom(from: JobState): readonly JobState[] {
  return TABLE[from];
}
