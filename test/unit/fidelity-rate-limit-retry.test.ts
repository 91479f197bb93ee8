import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { VastApiError } from '../../server/errors.js';
import { SecretRegistry } from '../../server/secrets.js';
import { VastClient } from '../../server/vast/client.js';
import { VastHttp } from '../../server/vast/http.js';
import { delayAfter429, rateLimitDeadlineMs, retryAfterMs } from '../../server/vast/pacing.js';
import { scriptedServer, type Scripted } from '../helpers/scripted-server.js';
import { startTestSim, TEST_KEY } from '../helpers/sim.js';

/** The platform client with its sleeps recorded, not slept, and no pacer: only the 429 policy decides. */
function recordingHttp(baseUrl: string): { http: VastHttp; sleeps: number[] } {
  const sleeps: number[] = [];
  const http = new VastHttp(
    {
      baseUrl,
      apiKey: TEST_KEY,
      connectTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      bodyTimeoutMs: 2000,
      sleep: async (ms) => void sleeps.push(ms),
      pacer: null,
    },
    pino({ level: 'silent' }),
    new SecretRegistry(),
  );
  return { http, sleeps };
}

/**
 * 429 handling against the documented limits (DOC rate-limits-and-errors.mdx: no Retry-After;
 * search_offers.yaml: 10 per minute). Sleeps are recorded, not slept: no timed assertions.
 */
async function run(queue: Scripted[], fn: (c: VastClient) => Promise<unknown>): Promise<{ sleeps: number[]; seen: number; error: unknown }> {
  const srv = await scriptedServer(queue);
  const { http, sleeps } = recordingHttp(srv.url);
  let error: unknown = null;
  try {
    await fn(new VastClient(http));
  } catch (e) {
    error = e;
  } finally {
    await srv.close();
  }
  return { sleeps, seen: srv.seen.length, error };
}

const TOO_MANY: Scripted = {
  status: 429,
  body: JSON.stringify({ detail: 'API requests too frequent endpoint threshold=6.0' }),
};
const OFFERS: Scripted = { status: 200, body: '{"offers":[]}' };
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('after a 429 the client waits as the platform refills (12: rate limits)', () => {
  it('retries an exhausted search bucket soon, then backs off, and rides out a whole 60 s window', async () => {
    const r = await run([...Array.from({ length: 7 }, () => TOO_MANY), OFFERS], (c) => c.searchOffers({}));
    expect(r.error).toBeNull();
    expect(r.seen).toBe(8);
    expect(r.sleeps[0]).toBeLessThanOrEqual(1000);
    for (let i = 1; i < 5; i++) expect(r.sleeps[i]!).toBeGreaterThanOrEqual(r.sleeps[i - 1]! / 2);
  });

  it('keeps trying until the window has certainly refilled, and only then gives up, saying so', async () => {
    const r = await run(
      Array.from({ length: 40 }, () => TOO_MANY),
      (c) => c.searchOffers({}),
    );
    expect(r.error).toBeInstanceOf(VastApiError);
    expect((r.error as VastApiError).kind).toBe('rate_limited');
    expect((r.error as VastApiError).message).toMatch(/stayed limited for 6\d s/);
    // The waits add up to the whole window plus slack: a retry after 60 s meets a refilled bucket.
    expect(sum(r.sleeps)).toBe(rateLimitDeadlineMs('POST', '/api/v0/bundles/'));
    expect(sum(r.sleeps)).toBeGreaterThan(60_000);
  });

  it('honours Retry-After when a 429 carries one', async () => {
    const r = await run([{ ...TOO_MANY, headers: { 'retry-after': '3' } }, OFFERS], (c) => c.searchOffers({}));
    expect(r.error).toBeNull();
    expect(r.sleeps).toEqual([3000]);
  });

  it('retries after a short pause when Retry-After is 0, instead of failing the call', async () => {
    const r = await run([{ ...TOO_MANY, headers: { 'retry-after': '0' } }, OFFERS], (c) => c.searchOffers({}));
    expect(r.error).toBeNull();
    expect(r.sleeps).toEqual([250]);
  });

  it('does not sit out a Retry-After longer than a minute: it says how long the platform asks', async () => {
    const r = await run([{ ...TOO_MANY, headers: { 'retry-after': '600' } }, OFFERS], (c) => c.searchOffers({}));
    expect((r.error as VastApiError).kind).toBe('rate_limited');
    expect((r.error as VastApiError).message).toMatch(/asks to wait 600 s/);
    expect(r.sleeps).toEqual([]);
  });

  it('waits an interval endpoint out for its documented interval (show instance: 2 s)', () => {
    for (let n = 0; n < 3; n++) {
      expect(delayAfter429('GET', '/api/v0/instances/5/', n, () => 0)).toBe(2250);
      expect(delayAfter429('GET', '/api/v0/instances/5/', n, () => 1)).toBeLessThanOrEqual(2250 * 1.25 + 1);
    }
    expect(delayAfter429('PUT', '/api/v0/asks/7/', 0, () => 0)).toBe(12_250);
    expect(delayAfter429('POST', '/api/v0/bundles/', 0, () => 0)).toBe(500);
    expect(delayAfter429('POST', '/api/v0/bundles/', 20, () => 1)).toBe(30_000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('0.5')).toBe(500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
  });
});

describe('the daily search quota: 429 search_quota_exceeded with Retry-After, from the simulator', () => {
  const QUOTA = JSON.stringify({ error: 'search_quota_exceeded', msg: 'Daily search row quota exhausted' });
  it.each([
    [1, 'waits it out and succeeds'],
    [7200, 'ends the call at once, saying how long the platform asks'],
  ])('Retry-After %i s: %s', async (seconds) => {
    const sim = await startTestSim();
    const { http, sleeps } = recordingHttp(sim.url);
    try {
      sim.faults.add({ method: 'POST', path: '^/api/v0/bundles$', kind: 'error', status: 429, body: QUOTA, retryAfterSeconds: seconds, count: 1 });
      const search = new VastClient(http).searchOffers({ limit: 1, allocated_storage: 10 });
      if (seconds === 1) {
        expect((await search).length).toBe(1);
        expect(sleeps).toEqual([1000]);
      } else {
        const e = await search.then(
          () => null,
          (x: unknown) => x as VastApiError,
        );
        expect(e?.kind).toBe('rate_limited');
        expect(e?.message).toMatch(/Daily search row quota exhausted.*asks to wait 7200 s/);
        expect(sleeps).toEqual([]);
      }
    } finally {
      await sim.close();
    }
  });
});
