import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { VastApiError } from '../../server/errors.js';
import { SecretRegistry } from '../../server/secrets.js';
import { VastClient } from '../../server/vast/client.js';
import { VastHttp } from '../../server/vast/http.js';
import { scriptedServer, type Scripted } from '../helpers/scripted-server.js';
import { TEST_KEY } from '../helpers/sim.js';

async function withClient(
  queue: Scripted[],
  fn: (client: VastClient, http: VastHttp, seen: Awaited<ReturnType<typeof scriptedServer>>['seen']) => Promise<void>,
  key: string | null = TEST_KEY,
) {
  const srv = await scriptedServer(queue);
  const sleeps: number[] = [];
  const http = new VastHttp(
    {
      baseUrl: srv.url,
      apiKey: key,
      connectTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      bodyTimeoutMs: 2000,
      retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
      sleep: async (ms) => void sleeps.push(ms),
      pacer: null,
    },
    pino({ level: 'silent' }),
    new SecretRegistry(),
  );
  try {
    await fn(new VastClient(http), http, srv.seen);
  } finally {
    await srv.close();
  }
  return sleeps;
}

async function caught(p: Promise<unknown>): Promise<VastApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VastApiError) return e;
    throw e;
  }
  throw new Error('expected a VastApiError');
}

const USER = JSON.stringify({ id: 1, username: 'u', email: 'e@x', fullname: 'F', credit: 10, balance: 10, api_key: TEST_KEY });

describe('VastHttp', () => {
  it('sends Bearer auth, JSON-encodes non-string query values and strips api_key from answers', async () => {
    await withClient(
      [
        { status: 200, body: USER },
        { status: 200, body: '{"invoices":[]}' },
      ],
      async (client, _h, seen) => {
        const user = await client.currentUser();
        expect(JSON.stringify(user)).not.toContain(TEST_KEY);
        expect(seen[0]!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
        await client.invoices(100, 200);
        expect(seen[1]!.url).toBe('/api/v0/users/me/invoices?owner=me&sdate=100&edate=200&inc_charges=true');
      },
    );
  });

  it('maps 401 to an actionable auth error without the key', async () => {
    await withClient(
      [{ status: 401, body: JSON.stringify({ success: false, error: 'auth_error', msg: `Invalid user key ${TEST_KEY}` }) }],
      async (client) => {
        const e = await caught(client.currentUser());
        expect(e.kind).toBe('auth');
        expect(e.message).toMatch(/VAST_API_KEY/);
        expect(e.message).not.toContain(TEST_KEY);
      },
    );
  });

  it('explains a missing key before sending anything', async () => {
    await withClient(
      [],
      async (client, _h, seen) => {
        const e = await caught(client.currentUser());
        expect(e.kind).toBe('no_api_key');
        expect(e.message).toMatch(/VAST_API_KEY/);
        expect(seen).toHaveLength(0);
      },
      null,
    );
  });

  it('retries a GET on 429 (plain text, no Retry-After) and 503, then succeeds', async () => {
    const sleeps = await withClient(
      [
        { status: 429, body: 'API requests too frequent', contentType: 'text/plain' },
        { status: 503, body: '{}' },
        { status: 200, body: USER },
      ],
      async (client, _h, seen) => {
        expect((await client.currentUser()).username).toBe('u');
        expect(seen).toHaveLength(3);
      },
    );
    expect(sleeps).toHaveLength(2);
    // No Retry-After: a 429 waits at least a second (longer on endpoints with a documented interval).
    expect(sleeps[0]!).toBeGreaterThanOrEqual(1000);
    expect(sleeps[1]!).toBeLessThan(1000);
  });

  it("429s are bounded by the limit's deadline, not by the attempt budget; then a rate-limit message", async () => {
    const q = Array.from({ length: 30 }, () => ({ status: 429, body: 'API requests too frequent', contentType: 'text/plain' }));
    const sleeps = await withClient(q, async (client, _h, seen) => {
      const e = await caught(client.currentUser());
      expect(e.kind).toBe('rate_limited');
      expect(e.message).toMatch(/before trying again/);
      expect(seen.length).toBeGreaterThan(4);
    });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(5000);
  });

  it('never retries a create (not safe to repeat), even on 503', async () => {
    await withClient(
      [
        { status: 503, body: '{"msg":"busy"}' },
        { status: 200, body: '{"success":true,"new_contract":5}' },
      ],
      async (client, _h, seen) => {
        const body = {
          client_id: 'me',
          image: 'x',
          env: {},
          price: null,
          disk: 10,
          label: null,
          extra: null,
          onstart: null,
          runtype: 'ssh',
          cancel_unavail: true,
          image_login: null,
          python_utf8: false,
          lang_utf8: false,
          use_jupyter_lab: false,
          jupyter_dir: null,
          force: false,
          template_hash_id: null,
          user: null,
        } as const;
        const e = await caught(client.createInstance(1, body));
        expect(e.kind).toBe('server');
        expect(seen).toHaveLength(1);
      },
    );
  });

  it('marks a dropped answer to a create as outcome unknown', async () => {
    await withClient([{ status: 0, body: '', drop: true }], async (client) => {
      const body = {
        client_id: 'me',
        image: 'x',
        env: {},
        price: null,
        disk: 10,
        label: null,
        extra: null,
        onstart: null,
        runtype: 'ssh',
        cancel_unavail: true,
        image_login: null,
        python_utf8: false,
        lang_utf8: false,
        use_jupyter_lab: false,
        jupyter_dir: null,
        force: false,
        template_hash_id: null,
        user: null,
      } as const;
      const e = await caught(client.createInstance(1, body));
      expect(e.kind).toBe('network');
      expect(e.outcomeUnknown).toBe(true);
    });
  });

  it.each([
    [404, '{"error":"no_such_ask","msg":"gone"}', 'not_found'],
    [410, '{"error":"no_such_ask","msg":"no longer available"}', 'gone'],
    [411, '{"msg":"Insufficient credit"}', 'insufficient_credit'],
    [400, '{"error":"invalid_args","msg":"disk must be at least 8 GB"}', 'bad_request'],
    [502, '<html>bad gateway</html>', 'server'],
  ])('maps HTTP %i to %s', async (status, body, kind) => {
    await withClient(
      Array.from({ length: 4 }, () => ({ status, body })),
      async (client) => {
        const e = await caught(client.getInstance(1));
        expect(e.kind).toBe(kind);
        expect(e.status).toBe(status);
      },
    );
  });

  it('names the drifted field when an answer has the wrong shape', async () => {
    await withClient([{ status: 200, body: '{"gpu_names":"x"}' }], async (client) => {
      const e = await caught(client.gpuNames());
      expect(e.kind).toBe('bad_response');
      expect(e.message).toMatch(/gpu_names/);
    });
  });

  it('treats a 200 {success:false} on a mutation as a refusal with its msg', async () => {
    await withClient([{ status: 200, body: '{"success":false,"msg":"Instance is locked"}' }], async (client) => {
      const e = await caught(client.setState(5, 'stopped'));
      expect(e.kind).toBe('rejected');
      expect(e.message).toMatch(/Instance is locked/);
    });
  });

  it('follows next_token through all instance pages', async () => {
    const page = (ids: number[], next: string | null) => ({
      status: 200,
      body: JSON.stringify({ instances: ids.map((id) => ({ id })), next_token: next }),
    });
    await withClient([page([1, 2], 'abc'), page([3], null)], async (client, _h, seen) => {
      expect((await client.listInstances()).map((i) => i.id)).toEqual([1, 2, 3]);
      expect(seen[1]!.url).toContain('after_token=abc');
    });
  });

  it('sends {} as the body of a DELETE', async () => {
    await withClient([{ status: 200, body: '{"success":true}' }], async (client, _h, seen) => {
      await client.destroy(7);
      expect(seen[0]!.method).toBe('DELETE');
      expect(seen[0]!.body).toBe('{}');
    });
  });

  it('parses a schema-valid answer into plain values', async () => {
    await withClient([{ status: 200, body: '{"gpu_names":["A","B"]}' }], async (client, _h, seen) => {
      expect(await client.gpuNames()).toEqual(['A', 'B']);
      expect(seen[0]!.headers.authorization).toBeUndefined();
    });
    expect(z.string().parse('x')).toBe('x');
  });
});
