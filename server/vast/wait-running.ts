import { VastMcpError } from '../errors.js';
import type { VastClient } from './client.js';
import { VastApiError } from '../errors.js';
import { DEAD_CODES, diagnose, type Diagnosis } from './diagnosis.js';
import type { Instance } from './schemas.js';

export interface WaitOptions {
  deadlineMs: number;
  /** First poll interval; grows ×1.5 up to maxIntervalMs. Vast's show-instance limit is one call per 2 s. */
  minIntervalMs: number;
  maxIntervalMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  onPoll?: (inst: Instance | null, elapsedMs: number) => Promise<void>;
  /** Simulated/platform clock for the diagnosis, epoch seconds. */
  epochNow: () => number;
  /** Scheduling this long is treated as stuck. */
  stuckSchedulingMs: number;
  /**
   * Arms a timer that aborts the request in flight at the deadline (default: a real timer,
   * `setTimeout`). A deadline includes requests in flight: a hung poll never outlives it.
   */
  armDeadline?: (ms: number, abort: () => void) => () => void;
  /** The caller's cancel (a client's notifications/cancelled): ends the wait at once, request in flight included. */
  signal?: AbortSignal;
}

const realTimer = (ms: number, abort: () => void): (() => void) => {
  const t = setTimeout(abort, Math.max(0, ms));
  return () => clearTimeout(t);
};

export interface WaitResult {
  /** 'cancelled': the caller's signal ended the wait (only with `signal`). */
  outcome: 'running' | 'dead' | 'deadline' | 'cancelled';
  instance: Instance | null;
  diagnosis: Diagnosis | null;
  polls: number;
  elapsedMs: number;
}

/** Polls one instance until it runs, dies, or the hard deadline passes. Never loops forever. */
export async function waitUntilRunning(vast: VastClient, id: number, o: WaitOptions): Promise<WaitResult> {
  const started = o.now();
  let interval = o.minIntervalMs;
  let polls = 0;
  let schedulingSince: number | null = null;
  let last: Instance | null = null;
  let lastDiagnosis: Diagnosis | null = null;
  const controller = new AbortController();
  const disarm = (o.armDeadline ?? realTimer)(o.deadlineMs, () => controller.abort());
  const cancelled = () => o.signal?.aborted === true;
  const onCancel = () => controller.abort();
  o.signal?.addEventListener('abort', onCancel, { once: true });
  const stopped = (): WaitResult => ({
    outcome: cancelled() ? 'cancelled' : 'deadline',
    instance: last,
    diagnosis: lastDiagnosis,
    polls,
    elapsedMs: o.now() - started,
  });
  try {
    for (;;) {
      if (controller.signal.aborted) return stopped();
      let inst: Instance | null;
      try {
        inst = await vast.getInstance(id, { signal: controller.signal });
      } catch (e) {
        // The deadline (or a cancel) fired while a request was in flight: abandon it and report that.
        if (controller.signal.aborted && e instanceof VastApiError) return stopped();
        throw e;
      }
      polls++;
      const elapsed = o.now() - started;
      await o.onPoll?.(inst, elapsed);
      if (!inst)
        throw new VastMcpError(
          `Instance ${id} disappeared while waiting for it to start (destroyed, or deleted for lack of credit).`,
          'instance_gone',
        );
      const d = diagnose(inst, o.epochNow());
      last = inst;
      lastDiagnosis = d;
      if (d.code === 'running') return { outcome: 'running', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
      if (DEAD_CODES.has(d.code)) return { outcome: 'dead', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
      // We only wait after asking for running (create or start): an intended state of "stopped" now
      // means the platform (an interruption, expiry, lack of credit) or someone else stopped it.
      if (inst.intended_status === 'stopped') return { outcome: 'dead', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
      if (d.code === 'scheduling') {
        schedulingSince ??= o.now();
        if (o.now() - schedulingSince >= o.stuckSchedulingMs) return { outcome: 'dead', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
      } else {
        schedulingSince = null;
      }
      const left = o.deadlineMs - (o.now() - started);
      if (left <= 0 || controller.signal.aborted) return stopped();
      // The pause ends early at the deadline or a cancel.
      await new Promise<void>((resolve) => {
        const wake = () => resolve();
        controller.signal.addEventListener('abort', wake, { once: true });
        void o.sleep(Math.min(interval, left)).then(() => {
          controller.signal.removeEventListener('abort', wake);
          resolve();
        });
      });
      interval = Math.min(o.maxIntervalMs, Math.round(interval * 1.5));
    }
  } finally {
    disarm();
    o.signal?.removeEventListener('abort', onCancel);
  }
}
