import { VastMcpError } from '../errors.js';
import type { VastClient } from './client.js';
import { diagnose, type Diagnosis } from './diagnosis.js';
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
}

export interface WaitResult {
  outcome: 'running' | 'dead' | 'deadline';
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
  for (;;) {
    const inst = await vast.getInstance(id);
    polls++;
    const elapsed = o.now() - started;
    await o.onPoll?.(inst, elapsed);
    if (!inst) throw new VastMcpError(`Instance ${id} disappeared while waiting for it to start (destroyed, or deleted for lack of credit).`, 'instance_gone');
    const d = diagnose(inst, o.epochNow());
    if (d.code === 'running') return { outcome: 'running', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
    if (d.code === 'exited' || d.code === 'offline' || d.code === 'outbid') return { outcome: 'dead', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
    if (d.code === 'scheduling') {
      schedulingSince ??= o.now();
      if (o.now() - schedulingSince >= o.stuckSchedulingMs) return { outcome: 'dead', instance: inst, diagnosis: d, polls, elapsedMs: elapsed };
    } else {
      schedulingSince = null;
    }
    const left = o.deadlineMs - (o.now() - started);
    if (left <= 0) return { outcome: 'deadline', instance: inst, diagnosis: d, polls, elapsedMs: o.now() - started };
    await o.sleep(Math.min(interval, left));
    interval = Math.min(o.maxIntervalMs, Math.round(interval * 1.5));
  }
}
