import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectHttp, INITIALIZE, rawPost, startTestHttp, type TestHttp } from '../helpers/http.js';
import { startTestSim } from '../helpers/sim.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

let sim: RunningSimulator;
let issuer: TokenIssuer;
let t: TestHttp;
const revokedFile = join(mkdtempSync(join(tmpdir(), 'vast-mcp-revoked-')), 'revoked.txt');
const SCOPE = 'vast:use';

beforeAll(async () => {
  sim = await startTestSim();
  issuer = await startTokenIssuer();
  writeFileSync(revokedFile, '# revoked jti values\nrevoked-jti-1\n');
  t = await startTestHttp(sim, {
    VAST_MCP_OAUTH_ISSUER: issuer.issuer,
    VAST_MCP_OAUTH_TEAM_CLAIM: 'groups',
    VAST_MCP_OAUTH_REQUIRED_SCOPES: SCOPE,
    VAST_MCP_OAUTH_REVOKED_JTI_FILE: revokedFile,
  });
});

afterAll(async () => {
  await t?.close();
  await issuer?.close();
  await sim?.close();
});

const good = (extra: Record<string, unknown> = {}, opts: Parameters<TokenIssuer['sign']>[1] = {}) =>
  issuer.sign({ sub: 'alice', groups: ['/ml-team'], scope: `openid ${SCOPE}`, ...extra }, { audience: t.url, ...opts });

/** A session opened with a good token, ready for tools/call. */
async function openSession(): Promise<string> {
  const token = await good();
  const init = await rawPost(t.url, INITIALIZE, { authorization: `Bearer ${token}` });
  expect(init.status).toBe(200);
  const sid = init.headers.get('mcp-session-id')!;
  const ack = await rawPost(
    t.url,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { authorization: `Bearer ${token}`, 'mcp-session-id': sid },
  );
  expect(ack.status).toBe(202);
  return sid;
}

const OFFERS_CALL = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'offers', arguments: { gpu_name: 'RTX 4090', limit: 2 } } };

describe('OAuth resource server (MCP authorization spec)', () => {
  it('publishes Protected Resource Metadata at the root and the path-suffixed well-known URLs', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${t.base}${path}`);
      expect(res.status).toBe(200);
      const meta = await res.json();
      expect(meta).toMatchObject({
        resource: t.url,
        authorization_servers: [issuer.issuer],
        bearer_methods_supported: ['header'],
        scopes_supported: [SCOPE],
      });
    }
  });

  it('answers a request without a token 401 with the metadata link and no error code', async () => {
    const r = await rawPost(t.url, INITIALIZE);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${t.base}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('serves a valid token through the SDK client, with the user from sub and the team from groups', async () => {
    const c = await connectHttp(t.url, { token: await good() });
    const { tools } = await c.client.listTools();
    expect(tools.map((x) => x.name)).toContain('offers');
    const r = await c.call('offers', { gpu_name: 'RTX 4090', limit: 2 });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as any).offers.length).toBeGreaterThan(0);
    await c.close();
    expect(t.logs.join('')).toMatch(/"user":"alice".*MCP session opened/);
  });

  const BAD: { name: string; token: () => Promise<string> | string; status: number; error: string; says: RegExp }[] = [
    { name: 'expired', token: () => good({}, { expiresInSeconds: -3600 }), status: 401, error: 'invalid_token', says: /expired/ },
    {
      name: 'wrong audience',
      token: () => good({}, { audience: 'https://other-server.example/mcp' }),
      status: 401,
      error: 'invalid_token',
      says: /another resource/,
    },
    { name: 'no audience', token: () => issuer.sign({ sub: 'alice', scope: SCOPE }), status: 401, error: 'invalid_token', says: /audience|aud/ },
    { name: 'wrong issuer', token: () => good({}, { issuer: 'https://evil-idp.example' }), status: 401, error: 'invalid_token', says: /issuer/ },
    {
      name: 'unsigned (alg none)',
      token: () => issuer.unsigned({ sub: 'alice', aud: t.url, scope: SCOPE }),
      status: 401,
      error: 'invalid_token',
      says: /algorithm|not a valid/,
    },
    {
      name: 'signed with a key the issuer does not publish',
      token: () => good({}, { foreignKey: true }),
      status: 401,
      error: 'invalid_token',
      says: /signature/,
    },
    { name: 'replayed after revocation (jti)', token: () => good({ jti: 'revoked-jti-1' }), status: 401, error: 'invalid_token', says: /revoked/ },
    { name: 'without exp', token: () => good({}, { noExp: true }), status: 401, error: 'invalid_token', says: /exp/ },
    { name: 'without the required scope', token: () => good({ scope: 'openid' }), status: 403, error: 'insufficient_scope', says: /scope/ },
    { name: 'garbage', token: () => 'not-a-jwt', status: 401, error: 'invalid_token', says: /not a valid/ },
  ];

  for (const bad of BAD) {
    it(`refuses a token ${bad.name} with ${bad.status} and executes nothing`, async () => {
      const sid = await openSession();
      const before = sim.requests.length;
      const r = await rawPost(t.url, OFFERS_CALL, { authorization: `Bearer ${await bad.token()}`, 'mcp-session-id': sid });
      expect(r.status).toBe(bad.status);
      const challenge = r.headers.get('www-authenticate')!;
      expect(challenge).toContain(`error="${bad.error}"`);
      expect(challenge).toContain('resource_metadata="');
      if (bad.status === 403) expect(challenge).toContain(`scope="${SCOPE}"`);
      expect(JSON.parse(r.text).error_description).toMatch(bad.says);
      expect(sim.requests.length).toBe(before);
    });
  }

  it('the same call with a good token does reach the platform (the control for the refusals above)', async () => {
    const sid = await openSession();
    const before = sim.requests.length;
    const r = await rawPost(t.url, OFFERS_CALL, { authorization: `Bearer ${await good()}`, 'mcp-session-id': sid });
    expect(r.status).toBe(200);
    expect(r.text).toContain('"id":7');
    expect(sim.requests.length).toBeGreaterThan(before);
  });

  it('a malformed Authorization header is 400 invalid_request', async () => {
    const r = await rawPost(t.url, INITIALIZE, { authorization: 'Basic YWxpY2U6cHc=' });
    expect(r.status).toBe(400);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('a token revoked after the session opened stops working at once (every request is checked)', async () => {
    const token = await good({ jti: 'later-revoked' });
    const init = await rawPost(t.url, INITIALIZE, { authorization: `Bearer ${token}` });
    expect(init.status).toBe(200);
    writeFileSync(revokedFile, 'revoked-jti-1\nlater-revoked\n');
    const sid = init.headers.get('mcp-session-id')!;
    const before = sim.requests.length;
    const r = await rawPost(t.url, OFFERS_CALL, { authorization: `Bearer ${token}`, 'mcp-session-id': sid });
    expect(r.status).toBe(401);
    expect(sim.requests.length).toBe(before);
  });

  it("another user's token cannot use alice's session", async () => {
    const sid = await openSession();
    const bob = await issuer.sign({ sub: 'bob', scope: SCOPE }, { audience: t.url });
    const before = sim.requests.length;
    const r = await rawPost(t.url, OFFERS_CALL, { authorization: `Bearer ${bob}`, 'mcp-session-id': sid });
    expect(r.status).toBe(404);
    expect(sim.requests.length).toBe(before);
  });

  it('fetched the JWKS through the metadata discovery, not per request', () => {
    expect(issuer.fetches.metadata).toBeGreaterThanOrEqual(1);
    expect(issuer.fetches.jwks).toBeLessThanOrEqual(3);
  });
});
