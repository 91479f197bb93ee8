import { setFlagsFromString } from 'node:v8';

/** Old-generation headroom after each full collection, as a percentage of what survived it (V8 picks 10–300 %). */
export const OLD_GENERATION_GROWING_PERCENT = 200;

/**
 * Heap settings for a process that streams bytes (a copy, or the simulator's SSH relay). Set at the
 * process entry, before any work allocates; neither flag is accepted in NODE_OPTIONS.
 *
 * - The young generation keeps its starting size. A copy allocates short-lived buffers and chunk objects
 *   fast, and V8 then doubles the semi-spaces up to 16 MB each (32 MB of new space, resident) while the
 *   live heap stays near 24 MB: that growth alone was ~20 MB of the server's peak RSS in a 1 GiB copy,
 *   with no measurable throughput gain. `--max-semi-space-size` set at run time is not honoured, so the
 *   growth factor is set instead.
 * - The old generation gets a fixed headroom. V8 counts the network's buffers still waiting for a
 *   scavenge (tens of MB at line rate) against the old generation's limit, and it shrinks that limit's
 *   headroom when collections take much of the time. In a 1 GiB copy the two fed each other: the headroom
 *   fell to ~9 MB and a full collection ran every ~120 ms (about 50 per GiB, ~1.5 s of CPU). With a fixed
 *   headroom of twice the live heap, the same copy runs 2–3 full collections and the peak RSS is unchanged
 *   (`npm run bench`).
 */
export function setStreamingHeapFlags(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWING_PERCENT}`);
}
