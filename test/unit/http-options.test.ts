import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../server/cli-args.js';
import { httpOptionsFrom } from '../../server/http/http-options.js';
import { BoundedEventStore } from '../../server/http/event-store.js';
import { checkOrigin, originPolicy } from '../../server/http/origin-guard.js';
import { RateLimiter } from '../../server/http/rate-limit.js';
import { resourceUrls } from '../../server/http/resource-metadata.js';
import type { IncomingMessage } from 'node:http';

describe('vast-mcp serve options', () => {
  it('parses serve and token subcommands and keeps the stdio default', () => {
    expect(parseCliArgs(['serve', '--port', '0', '--host', '127.0.0.1', '--sandbox', '--auth-tokens', 't.yaml'])).toMatchObject({
      command: 'http',
      port: 0,
      host: '127.0.0.1',
      sandbox: true,
      authTokens: 't.yaml',
    });
    expect(parseCliArgs(['--sandbox'])).toMatchObject({ command: 'serve', sandbox: true });
    expect(parseCliArgs([])).toMatchObject({ command: 'serve', sandbox: false });
    expect(parseCliArgs(['token', 'add', '--user', 'alice', '--team', 'ml'])).toEqual({
      command: 'token',
      action: 'add',
      user: 'alice',
      team: 'ml',
      file: undefined,
    });
    expect(() => parseCliArgs(['serve', '--port', '70000'])).toThrow(/--port/);
    expect(() => parseCliArgs(['token', 'add'])).toThrow(/--user/);
  });

  it('binds loopback by default and refuses any other address without authentication', () => {
    expect(httpOptionsFrom({}, {})).toMatchObject({ host: '127.0.0.1', port: 8787 });
    expect(() => httpOptionsFrom({ host: '0.0.0.0' }, {})).toThrow(/refusing to listen on 0\.0\.0\.0 without authentication/);
    expect(() => httpOptionsFrom({}, { VAST_MCP_HTTP_HOST: '192.168.1.5' })).toThrow(/without authentication/);
    expect(httpOptionsFrom({ host: '0.0.0.0', authTokens: '/etc/vast-mcp/tokens.yaml' }, {}).host).toBe('0.0.0.0');
    expect(httpOptionsFrom({ host: '0.0.0.0' }, { VAST_MCP_OAUTH_ISSUER: 'https://idp.example/realms/t' }).auth.oauth?.issuer).toBe(
      'https://idp.example/realms/t',
    );
  });

  it('refuses an OAuth issuer over plain http off loopback and symmetric or "none" algorithms', () => {
    expect(() => httpOptionsFrom({}, { VAST_MCP_OAUTH_ISSUER: 'http://idp.example' })).toThrow(/https/);
    expect(() => httpOptionsFrom({}, { VAST_MCP_OAUTH_ISSUER: 'https://idp.example', VAST_MCP_OAUTH_ALGORITHMS: 'HS256' })).toThrow(/not allowed/);
    expect(() => httpOptionsFrom({}, { VAST_MCP_OAUTH_ISSUER: 'https://idp.example', VAST_MCP_OAUTH_ALGORITHMS: 'none' })).toThrow(/not allowed/);
  });

  it('places the resource metadata between host and path (RFC 9728 §3.1)', () => {
    expect(resourceUrls('http://127.0.0.1:8787')).toEqual({
      resource: 'http://127.0.0.1:8787/mcp',
      metadata: 'http://127.0.0.1:8787/.well-known/oauth-protected-resource/mcp',
      metadataPath: '/.well-known/oauth-protected-resource/mcp',
    });
    expect(resourceUrls('https://gpu.example.com/').resource).toBe('https://gpu.example.com/mcp');
  });
});

describe('Host and Origin policy', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const policy = originPolicy(8787, 'https://gpu.example.com', ['lb.internal'], []);
  it.each([
    [{ host: '127.0.0.1:8787' }, null],
    [{ host: 'localhost:9999' }, null],
    [{ host: '[::1]:8787', origin: 'http://[::1]:8787' }, null],
    [{ host: 'gpu.example.com', origin: 'https://gpu.example.com' }, null],
    [{ host: 'lb.internal:8080' }, null],
    [{ host: 'evil.example.com' }, /Host/],
    [{}, /Host/],
    [{ host: '127.0.0.1:8787', origin: 'http://evil.example.com' }, /Origin/],
    [{ host: '127.0.0.1:8787', origin: 'null' }, /Origin/],
  ])('%j → %s', (headers, expected) => {
    const got = checkOrigin(req(headers as Record<string, string>), policy);
    if (expected === null) expect(got).toBeNull();
    else expect(got).toMatch(expected as RegExp);
  });
});

describe('bounded pieces', () => {
  it('the event store replays only the events of the same stream after the given id, and forgets the oldest', async () => {
    const store = new BoundedEventStore(3);
    const m = (id: number) => ({ jsonrpc: '2.0' as const, id, result: {} });
    const a1 = await store.storeEvent('A', m(1));
    await store.storeEvent('B', m(2));
    await store.storeEvent('A', m(3));
    const sent: unknown[] = [];
    expect(await store.replayEventsAfter(a1, { send: async (_id, msg) => void sent.push(msg) })).toBe('A');
    expect(sent).toEqual([m(3)]);
    await store.storeEvent('A', m(4));
    expect(store.size).toBe(3);
    expect(await store.getStreamIdForEventId(a1)).toBeUndefined();
  });

  it('the rate limiter refills at the configured rate and names the wait', () => {
    let now = 0;
    const rl = new RateLimiter(60, 2, () => now);
    expect([rl.take('u'), rl.take('u'), rl.take('u')]).toEqual([0, 0, 1]);
    expect(rl.take('v')).toBe(0);
    now += 1000;
    expect(rl.take('u')).toBe(0);
  });
});
