import { setFlagsFromString } from 'node:v8';

/** Old-generation headroom after each full collection, as a percentage of what survived it. */
export const DEFAULT_HEAP_GROWING_PERCENT = 150;

/**
 * The headroom to use: `VAST_MCP_HEAP_GROWING_PERCENT` (0 leaves V8 to choose, as a plain node does;
 * at most 1000), else the default. Throws on anything else.
 */
export function heapGrowingPercent(env: NodeJS.ProcessEnv): number {
  const raw = env.VAST_MCP_HEAP_GROWING_PERCENT?.trim();
  if (!raw) return DEFAULT_HEAP_GROWING_PERCENT;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) > 1000)
    throw new Error(`VAST_MCP_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 (0: V8 decides), not ${JSON.stringify(raw.slice(0, 20))}.`);
  return Number(raw);
}

/**
 * Heap settings for a process that streams bytes: a copy (the stdio and HTTP servers, jobd), or the
 * simulator's SSH relay. Set at the process entry, before any work allocates; neither flag is accepted
 * in NODE_OPTIONS.
 *
 * - The young generation keeps its starting size. A copy allocates short-lived buffers and chunk objects
 *   fast, and V8 then doubles the semi-spaces up to 16 MB each (32 MB of new space, resident) while the
 *   live heap stays near 24 MB: that growth alone was ~20 MB of the server's peak RSS in a 1 GiB copy,
 *   with no measurable throughput gain. `--max-semi-space-size` set at run time is not honoured, so the
 *   growth factor is set instead.
 * - The old generation gets a fixed headroom. V8 sizes it from how fast it collects compared with how
 *   fast the program allocates on its heap; a copy's bytes live outside the heap, so V8 picks its
 *   minimum (×1.1 or 8 MB: ~9 MB over a ~22 MB live heap). Meanwhile the network's buffers waiting for
 *   collection (tens of MB at line rate) keep setting off collections ("external memory pressure" in
 *   V8's trace), and each found the old generation at its limit: a 1 GiB copy ran about 50 full
 *   collections, about 1.5 s of CPU. With a headroom of 1.5 times the live heap it runs about 3 (at
 *   100 % still ~45; at 200 % 1, but the bench's copy server then peaked at 153 MB against its 150 MB
 *   target, 145 MB at 150 %). The price is a later full collection in every mode: an idle process may
 *   hold up to 2.5 times its live heap before one runs. `VAST_MCP_HEAP_GROWING_PERCENT` changes it
 *   (0: V8 decides, with its memory-saving modes).
 */
export function setStreamingHeapFlags(env: NodeJS.ProcessEnv = process.env): void {
  const percent = heapGrowingPercent(env);
  setFlagsFromString('--semi-space-growth-factor=1');
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
