import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { VastApiError } from '../../server/errors.js';
import type { VastClient } from '../../server/vast/client.js';
import { rentReconciled } from '../../server/vast/rent.js';

/** A platform that answers every create with a 429 (nothing processed); counts the creates it saw. */
function rateLimitedPlatform() {
  const seen: string[] = [];
  const vast = {
    async createInstance(_offer: number, body: { label: string }) {
      seen.push(body.label);
      throw new VastApiError('API requests too frequent', 'rate_limited', 429, 'PUT /api/v0/asks/7/');
    },
  } as unknown as VastClient;
  return { vast, seen };
}

describe('a create cancelled while it waits out a 429 never rents afterwards (17.8)', () => {
  it('does not send the retry once the caller cancelled during the wait', async () => {
    const { vast, seen } = rateLimitedPlatform();
    const ac = new AbortController();
    const run = rentReconciled(vast, 7, { label: 'alice-abc123' } as never, {
      logger: pino({ level: 'silent' }),
      sleep: async () => ac.abort(), // the user cancels while the client sits out the create penalty
      windowMs: 0,
      signal: ac.signal,
    });
    await expect(run).rejects.toMatchObject({ code: 'cancelled', message: expect.stringMatching(/nothing was rented/) });
    expect(seen).toEqual(['alice-abc123']);
  });

  it('without a cancel it retries once after the penalty (unchanged)', async () => {
    const { vast, seen } = rateLimitedPlatform();
    const run = rentReconciled(vast, 7, { label: 'alice-abc123' } as never, {
      logger: pino({ level: 'silent' }),
      sleep: async () => {},
      windowMs: 0,
    });
    await expect(run).rejects.toMatchObject({ status: 429 });
    expect(seen).toHaveLength(2);
  });
});
