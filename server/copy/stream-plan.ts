/** How a large file's transfer is split into ranged streams. */

const MIB = 1024 * 1024;

/** Ranges big enough to amortise a channel; enough streams to fill a long fat link. */
export function planRanges(from: number, size: number, maxStreams: number): { start: number; len: number }[] {
  const left = size - from;
  const n = left >= 64 * MIB ? Math.max(1, Math.min(maxStreams, Math.ceil(left / (32 * MIB)))) : 1;
  const step = Math.ceil(left / n / MIB) * MIB || left;
  const out: { start: number; len: number }[] = [];
  for (let s = from; s < size; s += step) out.push({ start: s, len: Math.min(step, size - s) });
  return out.length ? out : [{ start: from, len: 0 }];
}

/** What one SSH channel keeps in flight on average (ssh2 tops its 2 MiB window up at half). */
const CHANNEL_IN_FLIGHT = 1.5 * MIB;
/** The rate the streams together should be able to carry (bytes/s). */
const TARGET_RATE = 500e6;
export const MAX_STREAMS = 4;

/**
 * How many parallel streams a link needs: one stream carries about its window per round trip, so a
 * near host is served best by one (more only add processes and copies on both ends), a far one by
 * several. An untimed link gets the most.
 */
export function streamsFor(rttMs: number | null): number {
  if (rttMs === null) return MAX_STREAMS;
  return Math.max(1, Math.min(MAX_STREAMS, Math.ceil((TARGET_RATE * rttMs) / 1000 / CHANNEL_IN_FLIGHT)));
}
