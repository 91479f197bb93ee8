import { describe, expect, it } from 'vitest';
import { forEachBounded, oneAtATime } from '../../server/jobs/step-pool.js';

/** A step that stays in flight until released, so overlap is counted without timing. */
function gated() {
  const open: (() => void)[] = [];
  const state = { now: 0, max: 0, done: [] as number[] };
  const step = (i: number) =>
    new Promise<void>((resolve) => {
      state.max = Math.max(state.max, ++state.now);
      open.push(() => {
        state.now--;
        state.done.push(i);
        resolve();
      });
    });
  const releaseAll = async () => {
    while (state.done.length < 10 && open.length) {
      open.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { state, step, open, releaseAll };
}

describe('forEachBounded', () => {
  it('keeps at most `limit` items in flight and runs every item once, in order of start', async () => {
    const g = gated();
    const run = forEachBounded(
      Array.from({ length: 10 }, (_, i) => i),
      3,
      g.step,
    );
    await new Promise((r) => setImmediate(r));
    expect(g.open.length).toBe(3);
    await g.releaseAll();
    await run;
    expect(g.state.max).toBe(3);
    expect(g.state.done).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('starts nothing after a failure, waits for the items in hand, then throws the failure', async () => {
    const started: number[] = [];
    let inHandDone = false;
    const run = forEachBounded([0, 1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      if (i === 0) throw new Error('step 0 failed');
      await new Promise((r) => setImmediate(r));
      inHandDone = true;
    });
    await expect(run).rejects.toThrow('step 0 failed');
    expect(started).toEqual([0, 1]);
    expect(inHandDone).toBe(true);
  });

  it('runs nothing for no items and treats a limit below one as one', async () => {
    let calls = 0;
    await forEachBounded([], 8, async () => void calls++);
    expect(calls).toBe(0);
    const g = gated();
    const run = forEachBounded([0, 1, 2], 0, g.step);
    await new Promise((r) => setImmediate(r));
    expect(g.open.length).toBe(1);
    await g.releaseAll();
    await run;
    expect(g.state.max).toBe(1);
  });
});

describe('oneAtATime', () => {
  it('runs turns one after another, in call order, even when one fails', async () => {
    const turn = oneAtATime();
    const log: string[] = [];
    let inside = 0;
    const job = (name: string, fail = false) =>
      turn(async () => {
        expect(++inside).toBe(1);
        log.push(`${name}:start`);
        await new Promise((r) => setImmediate(r));
        log.push(`${name}:end`);
        inside--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      });
    const results = await Promise.allSettled([job('a'), job('b', true), job('c')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c']);
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  });
});
