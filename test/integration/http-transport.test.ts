import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunningSimulator } from '../../sim/server.js';
import { addToken } from '../../server/auth/token-cli.js';
import { httpOptionsFrom } from '../../server/http/http-options.js';
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from '../../server/http/http-server.js';
import { createLogger } from '../../server/logger.js';
import { SecretRegistry } from '../../server/secrets.js';
import { connectHttp, INITIALIZE, rawPost, startTestHttp, type TestHttp } from '../helpers/http.js';
import { startTestSim } from '../helpers/sim.js';

const logger = createLogger('silent', new SecretRegistry());
const tokenFile = join(mkdtempSync(join(tmpdir(), 'vast-mcp-tokens-')), 'tokens.yaml');
const ALICE = addToken(tokenFile, 'alice', 'ml');
const BOB = addToken(tokenFile, 'bob', undefined);

/** A tiny server that reports who called and can hold a call open until released. */
function probeServer(gate: { release: () => void; started: number }) {
  const server = new McpServer({ name: 'probe', version: '1' });
  server.registerTool('whoami', { inputSchema: {} }, async (_a, extra) => ({
    content: [{ type: 'text', text: JSON.stringify(extra.authInfo?.extra ?? null) }],
  }));
  server.registerTool('slow', { inputSchema: { tag: z.string() } }, async ({ tag }) => {
    gate.started++;
    await new Promise<void>((r) => {
      gate.release = r;
    });
    return { content: [{ type: 'text', text: `done ${tag}` }] };
  });
  return server;
}

describe('HTTP transport around any McpServer', () => {
  let http: RunningHttpServer;
  const gate = { release: () => {}, started: 0 };
  afterEach(async () => {
    gate.release();
    await http?.close();
  });

  const start = (env: Record<string, string> = {}, extra: Partial<HttpServerOptions> = {}) =>
    startHttpServer(
      { ...httpOptionsFrom({ port: 0, authTokens: tokenFile }, env), shutdownGraceMs: 10_000, ...extra },
      () => probeServer(gate),
      logger,
    );

  it('hands the authenticated user and team to tool handlers as extra.authInfo', async () => {
    http = await start();
    const a = await connectHttp(http.url, { token: ALICE });
    const b = await connectHttp(http.url, { token: BOB });
    const text = async (c: typeof a) => ((await c.call('whoami')).content[0] as { text: string }).text;
    expect(JSON.parse(await text(a))).toEqual({ user: 'alice', team: 'ml' });
    expect(JSON.parse(await text(b))).toEqual({ user: 'bob' });
    await a.close();
    await b.close();
  });

  it('refuses DNS-rebinding requests (foreign Host or Origin) with 403 and accepts loopback ones', async () => {
    http = await start();
    const auth = { authorization: `Bearer ${ALICE}` };
    const host = new URL(http.url).host;
    expect((await rawPost(http.url, INITIALIZE, { ...auth, host: 'evil.example.com', origin: 'http://evil.example.com' })).status).toBe(403);
    expect((await rawPost(http.url, INITIALIZE, { ...auth, origin: 'http://evil.example.com' })).status).toBe(403);
    expect((await rawPost(http.url, INITIALIZE, { ...auth, origin: `http://localhost:${http.port + 1}` })).status).toBe(403);
    expect((await rawPost(http.url, INITIALIZE, { ...auth, host, origin: `http://${host}` })).status).toBe(200);
  });

  it('answers 413 to a body over the limit before parsing it', async () => {
    http = await start({ VAST_MCP_HTTP_MAX_BODY_BYTES: '2048' });
    const big = { ...INITIALIZE, params: { ...INITIALIZE.params, pad: 'x'.repeat(4096) } };
    expect((await rawPost(http.url, big, { authorization: `Bearer ${ALICE}` })).status).toBe(413);
  });

  it('limits requests per user with 429 and Retry-After, leaving other users alone', async () => {
    http = await start({ VAST_MCP_HTTP_RATE_PER_MINUTE: '1', VAST_MCP_HTTP_RATE_BURST: '2' });
    const alice = { authorization: `Bearer ${ALICE}` };
    expect((await rawPost(http.url, INITIALIZE, alice)).status).toBe(200);
    expect((await rawPost(http.url, INITIALIZE, alice)).status).toBe(200);
    const third = await rawPost(http.url, INITIALIZE, alice);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await rawPost(http.url, INITIALIZE, { authorization: `Bearer ${BOB}` })).status).toBe(200);
  });

  it('caps the open sessions of one user with 429, leaving other users alone', async () => {
    http = await start({ VAST_MCP_HTTP_MAX_SESSIONS_PER_USER: '2' });
    const alice = { authorization: `Bearer ${ALICE}` };
    expect((await rawPost(http.url, INITIALIZE, alice)).status).toBe(200);
    expect((await rawPost(http.url, INITIALIZE, alice)).status).toBe(200);
    expect((await rawPost(http.url, INITIALIZE, alice)).status).toBe(429);
    expect((await rawPost(http.url, INITIALIZE, { authorization: `Bearer ${BOB}` })).status).toBe(200);
    expect(http.sessions()).toBe(3);
  });

  it('slows down an address that keeps presenting unknown tokens', async () => {
    // One token a minute after a burst of 3: no refill can happen within the test.
    http = await start({}, { refusedLogins: { perMinute: 1, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await rawPost(http.url, INITIALIZE, { authorization: 'Bearer vmcp_wrong' })).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('serves /healthz without authentication and says when it is draining', async () => {
    http = await start();
    const base = http.url.replace(/\/mcp$/, '');
    const res = await fetch(`${base}/healthz`, { headers: { host: 'server1:8787' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', sessions: 0 });
  });

  it('on shutdown lets a call in flight finish, then refuses new work and closes the sessions', async () => {
    http = await start();
    const c = await connectHttp(http.url, { token: ALICE });
    const pending = c.call('slow', { tag: 'in-flight' });
    while (gate.started === 0) await new Promise((r) => setTimeout(r, 10));
    const closing = http.close();
    const late = await rawPost(http.url, INITIALIZE, { authorization: `Bearer ${ALICE}` }).catch(() => ({ status: 0 }));
    expect([0, 503]).toContain(late.status);
    gate.release();
    const r = await pending;
    expect((r.content[0] as { text: string }).text).toBe('done in-flight');
    await closing;
    expect(http.sessions()).toBe(0);
  });
});

describe('the vast-mcp tools over HTTP', () => {
  let sim: RunningSimulator;
  let t: TestHttp;
  beforeAll(async () => {
    sim = await startTestSim({ timeScale: 400 });
    t = await startTestHttp(sim, { VAST_MCP_AUTH_TOKENS: tokenFile });
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('asks for a rental by elicitation over HTTP and rents on yes', async () => {
    const asked: string[] = [];
    const c = await connectHttp(t.url, {
      token: ALICE,
      onElicit: (p) => {
        asked.push(p.message);
        return { action: 'accept', content: { confirm: true } };
      },
    });
    const r = await c.call('create', { gpu_name: 'RTX 4090', disk_gb: 40, hours: 2 });
    expect(r.isError).toBeFalsy();
    expect(asked[0]).toMatch(/Proposal to rent 1 instance/);
    expect(sim.world.liveInstances()).toHaveLength(1);
    await c.close();
  });

  it('keeps session state (the last offer search) in the session, never in the shared deps', async () => {
    const a = await connectHttp(t.url, { token: ALICE });
    await a.call('offers', { gpu_name: 'RTX 4090', limit: 1, interruptible: true });
    const b = await connectHttp(t.url, { token: BOB });
    expect(t.deps.session.lastOfferSearch).toBeNull();
    await a.close();
    await b.close();
  });

  it('sends progress notifications over HTTP for a waiting create', async () => {
    const c = await connectHttp(t.url, { token: ALICE });
    const p = (await c.call('create', { gpu_name: 'RTX 4090', disk_gb: 40, hours: 2 })).structuredContent as any;
    const progress: number[] = [];
    const r = await c.call(
      'create',
      { gpu_name: 'RTX 4090', disk_gb: 40, hours: 2, confirmation_token: p.confirmation_token, wait: true, wait_timeout_seconds: 60 },
      (n) => progress.push(n.progress),
    );
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as any).instances[0].state).toBe('running');
    expect(progress.length).toBeGreaterThan(0);
    await c.close();
  });
});
