import { describe, expect, it } from 'vitest';
import { backoffDelay, shouldRetry, DEFAULT_RETRY } from '../../server/vast/retry-policy.js';

describe('retry policy', () => {
  it.each([
    [true, 429, undefined, true],
    [true, 502, undefined, true],
    [true, 503, undefined, true],
    [true, 504, undefined, true],
    [true, 500, undefined, false],
    [true, 400, undefined, false],
    [true, 404, undefined, false],
    [true, undefined, 'ECONNRESET', true],
    [false, 429, undefined, false],
    [false, undefined, 'ECONNRESET', false],
  ])('idempotent=%s status=%s net=%s → %s', (idempotent, status, networkCode, expected) => {
    expect(shouldRetry({ idempotent, status, networkCode, attempt: 0, policy: DEFAULT_RETRY })).toBe(expected);
  });

  it('stops at the attempt budget', () => {
    expect(shouldRetry({ idempotent: true, status: 429, attempt: DEFAULT_RETRY.attempts - 1, policy: DEFAULT_RETRY })).toBe(false);
  });

  it('grows exponentially with jitter between half and full cap, bounded by max', () => {
    const p = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, p, () => 0)).toBe(50);
    expect(backoffDelay(0, p, () => 1)).toBe(100);
    expect(backoffDelay(2, p, () => 1)).toBe(400);
    expect(backoffDelay(8, p, () => 1)).toBe(1000);
    expect(backoffDelay(8, p, () => 0)).toBe(500);
  });
});

describe('pacing', () => {
  it('spaces calls to a limited endpoint and leaves others alone', async () => {
    const { Pacer } = await import('../../server/vast/pacing.js');
    let now = 0;
    const slept: number[] = [];
    const p = new Pacer(
      undefined,
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    await p.wait('GET', '/api/v0/instances/5/');
    await p.wait('GET', '/api/v0/instances/5/');
    await p.wait('GET', '/api/v0/users/current');
    await p.wait('PUT', '/api/v0/asks/9/');
    await p.wait('PUT', '/api/v0/asks/9/');
    expect(slept).toEqual([2250, 4750]);
  });
});
