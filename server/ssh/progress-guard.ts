import type { Duplex } from 'node:stream';

/** At least `minBytes` must flow in every `windowMs`, or the transfer is declared stalled. */
export interface ProgressRule {
  minBytes: number;
  windowMs: number;
  /** Which way the bytes that count flow: from the instance (`in`), to it (`out`), or either. */
  direction: 'in' | 'out' | 'both';
}

/** ~1 KiB/s over 30 s: far below any working link (the proxy gives MB/s), far above a trickle. */
export const DEFAULT_PROGRESS_RULE: Omit<ProgressRule, 'direction'> = { minBytes: 32 * 1024, windowMs: 30_000 };

/**
 * Watches a stream and destroys it with `makeError(reason)` when fewer than `minBytes` flowed in a
 * window: a host trickling one byte a second, or one that stopped sending without closing, ends the
 * transfer in bounded time (the caller's retry and resume take over). Returns the stop function.
 */
export function guardProgress(stream: Duplex, rule: ProgressRule, makeError: (reason: string) => Error): () => void {
  let moved = 0;
  let stopped = false;
  // Incoming bytes are counted where the channel pushes them, not with a 'data' listener: a listener
  // would switch the stream to flowing mode and lose data before the caller's own consumer attaches.
  const originalPush = stream.push;
  if (rule.direction !== 'out') {
    stream.push = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
      if (chunk) moved += typeof chunk === 'string' ? Buffer.byteLength(chunk) : ((chunk as Buffer).length ?? 0);
      return (originalPush as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Duplex['push'];
  }
  const originalWrite = stream.write;
  if (rule.direction !== 'in') {
    stream.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
      moved += typeof chunk === 'string' ? Buffer.byteLength(chunk) : ((chunk as Buffer)?.length ?? 0);
      return (originalWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Duplex['write'];
  }
  // Our own back-pressure is not a stalled host: when the local disk falls behind, the consumer pauses the
  // stream and the host rightly stops sending. A window in which the stream was paused is not judged.
  let pausedInWindow = false;
  const originalPause = stream.pause;
  if (rule.direction !== 'out') {
    stream.pause = function (this: Duplex) {
      pausedInWindow = true;
      return originalPause.call(this);
    } as Duplex['pause'];
  }
  const timer = setInterval(() => {
    const excused = rule.direction !== 'out' && (pausedInWindow || stream.isPaused());
    pausedInWindow = false;
    if (!excused && moved < rule.minBytes) {
      stop();
      const err = makeError(`stalled: ${moved} bytes in ${Math.round(rule.windowMs / 1000)} s (at least ${rule.minBytes} needed)`);
      let errored = false;
      stream.once('error', () => (errored = true)); // also keeps an unobserved stall from crashing the process
      stream.destroy(err);
      // ssh2's channel destroy() ignores the error (it only sends a close): emit it, so readers fail now.
      setImmediate(() => {
        if (!errored) stream.emit('error', err);
      });
    }
    moved = 0;
  }, rule.windowMs);
  timer.unref();
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (rule.direction !== 'out') {
      stream.push = originalPush;
      stream.pause = originalPause;
    }
    if (rule.direction !== 'in') stream.write = originalWrite;
  };
  stream.once('close', stop);
  return stop;
}
