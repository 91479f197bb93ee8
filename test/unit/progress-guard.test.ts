import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { guardProgress } from '../../server/ssh/progress-guard.js';

const ended = (s: PassThrough) =>
  new Promise<Error | null>((resolve) => {
    s.on('error', (e) => resolve(e));
    s.on('close', () => resolve(null));
  });

describe('minimum progress', () => {
  it('destroys a stream trickling below the rule, naming the stall', async () => {
    const s = new PassThrough();
    s.resume();
    guardProgress(s, { minBytes: 100, windowMs: 60, direction: 'in' }, (why) => new Error(why));
    const t = setInterval(() => s.write('x'), 10);
    const e = await ended(s);
    clearInterval(t);
    expect(e?.message).toMatch(/^stalled: \d+ bytes in 0 s \(at least 100 needed\)$/);
  });

  it('counts outgoing writes and leaves a healthy transfer alone', async () => {
    const s = new PassThrough();
    s.resume();
    const stop = guardProgress(s, { minBytes: 100, windowMs: 40, direction: 'out' }, (why) => new Error(why));
    let windows = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        s.write(Buffer.alloc(200));
        if (++windows === 20) {
          clearInterval(t);
          resolve();
        }
      }, 10);
    });
    expect(s.destroyed).toBe(false);
    stop();
    s.end();
  });

  it('does not judge a window in which the reader paused the stream (the local disk behind), and judges the next', async () => {
    const s = new PassThrough();
    s.on('data', () => undefined);
    guardProgress(s, { minBytes: 100, windowMs: 40, direction: 'in' }, (why) => new Error(why));
    s.pause();
    await new Promise((r) => setTimeout(r, 150)); // several windows with nothing moving, paused by us
    expect(s.destroyed).toBe(false);
    s.resume();
    // Resumed and the host sends nothing: a stall again, within a window or two.
    const e = await ended(s);
    expect(e?.message).toMatch(/^stalled: 0 bytes/);
  });

  it('a pause in the middle of a window excuses that window only', async () => {
    const s = new PassThrough();
    s.on('data', () => undefined);
    guardProgress(s, { minBytes: 100, windowMs: 40, direction: 'in' }, (why) => new Error(why));
    await new Promise((r) => setTimeout(r, 10));
    s.pause();
    s.resume();
    const e = await ended(s);
    expect(e?.message).toMatch(/^stalled/);
  });
});
