import { describe, expect, it } from 'vitest';
import type { VastClient } from '../../server/vast/client.js';
import type { Instance } from '../../server/vast/schemas.js';
import { waitUntilRunning } from '../../server/vast/wait-running.js';

function fakeClient(states: Partial<Instance>[]): { client: VastClient; calls: () => number } {
  let i = 0;
  const client = {
    getInstance: async () => ({ id: 1, start_date: 0, ...states[Math.min(i++, states.length - 1)] }) as Instance,
  } as unknown as VastClient;
  return { client, calls: () => i };
}

function clock() {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
}

const base = { minIntervalMs: 2000, maxIntervalMs: 10_000, epochNow: () => 100, stuckSchedulingMs: 60_000 };

describe('waitUntilRunning', () => {
  it('returns when the instance runs, backing off between polls', async () => {
    const c = clock();
    const f = fakeClient([{ actual_status: null }, { actual_status: 'loading' }, { actual_status: 'loading' }, { actual_status: 'running' }]);
    const slept: number[] = [];
    const r = await waitUntilRunning(f.client, 1, {
      ...base,
      deadlineMs: 60_000,
      now: c.now,
      sleep: async (ms) => {
        slept.push(ms);
        await c.sleep(ms);
      },
    });
    expect(r.outcome).toBe('running');
    expect(r.polls).toBe(4);
    expect(slept).toEqual([2000, 3000, 4500]);
  });

  it.each([
    [{ actual_status: 'offline', intended_status: 'running' }, 'offline'],
    [{ actual_status: 'exited', intended_status: 'running' }, 'exited'],
    [{ actual_status: 'stopped', intended_status: 'running', is_bid: true, status_msg: 'Outbid' }, 'outbid'],
    // dstack compute.py 209-216: the interruption signature, indistinguishable from a user stop.
    [
      { actual_status: 'stopped', intended_status: 'stopped', cur_state: 'stopped', next_state: 'stopped', is_bid: true, status_msg: '' },
      'interrupted',
    ],
    [{ actual_status: 'stopped', intended_status: 'stopped', cur_state: 'stopped', next_state: 'stopped', is_bid: false }, 'stopped_billing_disk'],
    [
      {
        actual_status: 'created',
        intended_status: 'running',
        status_msg: 'Error response from daemon: OCI runtime create failed: runc create failed',
      },
      'start_failed',
    ],
    [
      { actual_status: 'loading', intended_status: 'running', status_msg: 'Error: pull access denied for nope/nope, repository does not exist' },
      'pull_failed',
    ],
    [{ actual_status: 'unknown', intended_status: 'running' }, 'no_heartbeat'],
    [{ actual_status: 'frozen', intended_status: 'running' }, 'frozen'],
  ])('stops early on a dead state %o', async (state, code) => {
    const c = clock();
    const f = fakeClient([{ actual_status: 'loading' }, state as Partial<Instance>]);
    const r = await waitUntilRunning(f.client, 1, { ...base, deadlineMs: 600_000, now: c.now, sleep: c.sleep });
    expect(r.outcome).toBe('dead');
    expect(r.diagnosis?.code).toBe(code);
    expect(f.calls()).toBe(2);
  });

  it('gives up on scheduling that stays stuck, and never polls past the deadline', async () => {
    const c = clock();
    const stuck = fakeClient([{ actual_status: 'stopped', intended_status: 'running', status_msg: 'Scheduling: waiting for the GPU(s)' }]);
    const r = await waitUntilRunning(stuck.client, 1, { ...base, deadlineMs: 600_000, now: c.now, sleep: c.sleep });
    expect(r.outcome).toBe('dead');
    expect(r.diagnosis?.code).toBe('scheduling');
    expect(c.now()).toBeGreaterThanOrEqual(60_000);

    const c2 = clock();
    const slow = fakeClient([{ actual_status: 'loading' }]);
    const d = await waitUntilRunning(slow.client, 1, { ...base, deadlineMs: 30_000, now: c2.now, sleep: c2.sleep });
    expect(d.outcome).toBe('deadline');
    expect(c2.now()).toBeLessThanOrEqual(30_000);
  });
});
