import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { VastApiError } from '../../server/errors.js';
import { SecretRegistry } from '../../server/secrets.js';
import { VastClient, type CreateBody } from '../../server/vast/client.js';
import { VastHttp } from '../../server/vast/http.js';
import { Pacer } from '../../server/vast/pacing.js';
import { waitUntilRunning } from '../../server/vast/wait-running.js';
import { scriptedServer, type Scripted } from '../helpers/scripted-server.js';
import { TEST_KEY } from '../helpers/sim.js';

// Client side of the fidelity audit (../shared/references/vast-fidelity-audit.md, sections 1-2):
// each answer below is a documented or observed real shape, cited where it is used.

async function withClient(
  queue: Scripted[],
  fn: (client: VastClient, seen: Awaited<ReturnType<typeof scriptedServer>>['seen'], warnings: string[]) => Promise<void>,
) {
  const srv = await scriptedServer(queue);
  const sleeps: number[] = [];
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const http = new VastHttp(
    {
      baseUrl: srv.url,
      apiKey: TEST_KEY,
      connectTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      bodyTimeoutMs: 2000,
      retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
      sleep: async (ms) => void sleeps.push(ms),
      pacer: null,
    },
    logger,
    new SecretRegistry(),
  );
  try {
    await fn(new VastClient(http), srv.seen, warnings);
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

const BODY: CreateBody = {
  client_id: 'me',
  image: 'x',
  env: {},
  price: 0.01,
  disk: 10,
  label: null,
  extra: null,
  onstart: null,
  runtype: 'ssh',
  cancel_unavail: false,
  image_login: null,
  python_utf8: false,
  lang_utf8: false,
  use_jupyter_lab: false,
  jupyter_dir: null,
  force: false,
  template_hash_id: null,
  user: null,
};
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample me';

describe('SSH key listings (audit #1, #2)', () => {
  it('reads instance keys sent as a JSON string (DOC show_instance_ssh_keys.yaml) and as an array', async () => {
    const asString = JSON.stringify({ success: true, ssh_keys: JSON.stringify([{ id: 1, name: 'my-key', public_key: KEY }]) });
    const asArray = JSON.stringify({ success: true, ssh_keys: [{ id: 1, key: KEY }] });
    await withClient(
      [
        { status: 200, body: asString },
        { status: 200, body: asArray },
        { status: 200, body: '{"ssh_keys":""}' },
      ],
      async (client) => {
        expect(await client.instanceSshKeys(5)).toEqual([KEY]);
        expect(await client.instanceSshKeys(5)).toEqual([KEY]);
        expect(await client.instanceSshKeys(5)).toEqual([]);
      },
    );
  });

  it('reads a 404 "No SSH keys found" on the account as no keys (DOC show_ssh_keys.yaml:55)', async () => {
    await withClient([{ status: 404, body: '{"success":false,"error":"not_found","msg":"No SSH keys found for the user."}' }], async (client) => {
      expect(await client.accountSshKeys()).toEqual([]);
    });
  });
});

describe('create errors that still carry new_contract (audit #4)', () => {
  it.each([
    [200, { success: false, error: 'invalid_price', msg: 'bid too low', new_contract: 4242 }],
    [400, { success: false, error: 'invalid_price', msg: 'bid too low', new_contract: 4242 }],
    [400, { success: false, error: 'invalid_price', msg: 'bid too low', new_contract: '4242' }],
  ])('HTTP %i: the refusal names the created instance in newContract', async (status, body) => {
    await withClient([{ status, body: JSON.stringify(body) }], async (client) => {
      const e = await caught(client.createInstance(1, BODY));
      expect(e.newContract).toBe(4242);
      expect(e.apiCode).toBe('invalid_price');
    });
  });

  it('has newContract null when the body names no contract', async () => {
    await withClient(
      [
        {
          status: 404,
          body: '{"success":false,"error":"invalid_args","msg":"error 404/3603: no_such_ask  Instance type by id 1 is not available."}',
        },
      ],
      async (client) => {
        const e = await caught(client.createInstance(1, BODY));
        expect(e.newContract).toBeNull();
        expect(e.kind).toBe('not_found');
      },
    );
  });
});

describe('documented error bodies (audit #13, #14)', () => {
  it('treats a repeated destroy answered 404 no_such_instance as done once the instance reads as gone', async () => {
    await withClient(
      [
        { status: 404, body: '{"success":false,"error":"no_such_instance","msg":"Instance 7 not found."}' },
        { status: 200, body: '{"instances":null}' },
      ],
      async (client, seen) => {
        await client.destroy(7);
        expect(seen.map((s) => s.method)).toEqual(['DELETE', 'GET']);
      },
    );
  });

  it('still fails a destroy answered 404 while the instance exists', async () => {
    await withClient(
      [
        { status: 404, body: '{"error":"no_such_instance"}' },
        { status: 200, body: '{"instances":{"id":7,"actual_status":"running"}}' },
      ],
      async (client) => {
        expect((await caught(client.destroy(7))).kind).toBe('not_found');
      },
    );
  });

  it.each([403, 404, 500])('reads a log result URL answering %i with S3 XML as "not ready", never as an auth error', async (status) => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
    await withClient(
      Array.from({ length: 4 }, () => ({ status, body: xml, contentType: 'application/xml' })),
      async (client) => {
        expect(await client.fetchResult(`${client.baseUrl}/vast.ai/instance_logs/abc.log`)).toBeNull();
      },
    );
  });
});

describe('lenient parsing (audit #6, #19, #20)', () => {
  it('keeps every readable instance row and degrades odd fields to unknown with a warning', async () => {
    const rows = [
      {
        id: 1,
        actual_status: 'running',
        ssh_port: '41022',
        public_ipaddr: '1.2.3.4\n',
        ports: { '22/tcp': [null, { HostIp: '0.0.0.0', HostPort: '40001' }], '8080/tcp': null },
        extra_env: [['A', null]],
      },
      { id: 2, actual_status: 'running', ports: [8080, 8081], start_date: 'yesterday', dph_total: { x: 1 } },
      { actual_status: 'running' },
    ];
    await withClient([{ status: 200, body: JSON.stringify({ instances: rows, next_token: null }) }], async (client, _seen, warnings) => {
      const list = await client.listInstances();
      expect(list.map((i) => i.id)).toEqual([1, 2]);
      expect(list[0]!.ssh_port).toBe(41022);
      expect(list[0]!.public_ipaddr).toBe('1.2.3.4');
      expect(list[0]!.ports).toEqual({ '22/tcp': [{ HostIp: '0.0.0.0', HostPort: '40001' }] });
      expect(list[0]!.extra_env).toEqual([['A', '']]);
      expect(list[1]!.ports).toBeNull();
      expect(list[1]!.start_date).toBeNull();
      expect(list[1]!.dph_total).toBeNull();
      expect(warnings.join('\n')).toMatch(/start_date/);
      expect(warnings.join('\n')).toMatch(/unreadable instance row skipped/);
    });
  });

  it('skips one unreadable offer row instead of failing the search', async () => {
    const offers = [{ id: 'x' }, { id: 3, machine_id: 4, num_gpus: '1', gpu_name: 'RTX 4090', dph_total: 0.5, min_bid: null, cpu_cores: null }];
    await withClient([{ status: 200, body: JSON.stringify({ offers }) }], async (client) => {
      const got = await client.searchOffers({});
      expect(got.map((o) => o.id)).toEqual([3]);
      expect(got[0]!.num_gpus).toBe(1);
    });
  });

  it('falls back to balance when /users/current has no credit (DOC show_user.yaml)', async () => {
    await withClient([{ status: 200, body: '{"id":1,"email":"a@b","balance":12.5}' }], async (client) => {
      expect((await client.currentUser()).credit).toBe(12.5);
    });
  });
});

describe('rate limits (audit #11)', () => {
  it('waits at least the documented interval before retrying a 429 (show instance: 2 s)', async () => {
    const sleeps = await withClient(
      [
        { status: 429, body: 'API requests too frequent', contentType: 'text/plain' },
        { status: 200, body: '{"instances":null}' },
      ],
      async (client) => {
        expect(await client.getInstance(1)).toBeNull();
      },
    );
    expect(sleeps[0]).toBeGreaterThanOrEqual(2000);
  });

  it('spaces offer searches as a bucket of 10 per minute', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = new Pacer(
      undefined,
      () => now,
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    for (let i = 0; i < 11; i++) await pacer.wait('POST', '/api/v0/bundles/');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(60_000);
  });

  it('holds create for its 12 s penalty after a 429', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = new Pacer(
      undefined,
      () => now,
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    await pacer.wait('PUT', '/api/v0/asks/5/');
    pacer.penalize('PUT', '/api/v0/asks/5/');
    await pacer.wait('PUT', '/api/v0/asks/6/');
    expect(waits[0]).toBeGreaterThanOrEqual(12_000);
  });
});

describe('deadlines include requests in flight (issue 11 item 13)', () => {
  it('returns at the wait deadline although the poll request never answers', async () => {
    const hung = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const http = new VastHttp(
      { baseUrl: url, apiKey: TEST_KEY, connectTimeoutMs: 60_000, headersTimeoutMs: 600_000, bodyTimeoutMs: 600_000, pacer: null },
      pino({ level: 'silent' }),
      new SecretRegistry(),
    );
    try {
      const r = await waitUntilRunning(new VastClient(http), 1, {
        deadlineMs: 300,
        minIntervalMs: 10,
        maxIntervalMs: 10,
        now: () => Date.now(),
        sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
        epochNow: () => 0,
        stuckSchedulingMs: 60_000,
      });
      expect(r.outcome).toBe('deadline');
      expect(r.polls).toBe(0);
    } finally {
      hung.closeAllConnections();
      await new Promise<void>((r) => hung.close(() => r()));
    }
  }, 10_000);
});
