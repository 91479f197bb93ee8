/**
 * How a supervisor pass steps many jobs: a few at once (one job's SSH readiness wait or checkpoint copy no
 * longer holds up every job behind it), and the steps that must see each other's effects one at a time.
 */

/** Jobs stepped at once in a pass. API calls stay within the limits: the HTTP client paces each endpoint for all callers. */
export const STEP_CONCURRENCY = 8;

/**
 * Runs `fn` over `items`, at most `limit` at once, taken in order. Every item started is awaited; after the
 * first failure no new one starts, and that failure is thrown once all in hand are done.
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (failed) throw (failed as { error: unknown }).error;
}

/** A turn-taker: each call runs after the previous one settled, whatever its outcome. */
export type OneAtATime = <R>(fn: () => Promise<R>) => Promise<R>;

export function oneAtATime(): OneAtATime {
  let tail: Promise<unknown> = Promise.resolve();
  return <R>(fn: () => Promise<R>): Promise<R> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
