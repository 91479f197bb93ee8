import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../../server/auth/token-cli.js';
import { connectHttp, INITIALIZE, rawPost } from '../helpers/http.js';
import { spawnServe, type SpawnedServe } from '../helpers/http-spawn.js';
import { runCli } from '../helpers/spawn.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';
import { EXPECTED_TOOLS } from '../helpers/tool-names.js';

const tokenFile = join(mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-tokens-')), 'tokens.yaml');
const ALICE = addToken(tokenFile, 'alice', 'ml');

let issuer: TokenIssuer;
const servers: SpawnedServe[] = [];

beforeAll(async () => {
  issuer = await startTokenIssuer();
  servers.push(await spawnServe(['--sandbox', '--port', '0', '--auth-tokens', tokenFile], { VAST_MCP_LOG_LEVEL: 'info' }));
  servers.push(await spawnServe(['--sandbox', '--port', '0', '--oauth-issuer', issuer.issuer], { VAST_MCP_LOG_LEVEL: 'info' }));
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  await issuer?.close();
});

const FORMS: { name: string; server: () => SpawnedServe; token: () => Promise<string> }[] = [
  { name: 'bearer token file', server: () => servers[0]!, token: async () => ALICE },
  { name: 'OAuth access token', server: () => servers[1]!, token: () => issuer.sign({ sub: 'alice@example.com' }, { audience: servers[1]!.url }) },
];

const ARGS = { gpu_name: 'RTX 4090', disk_gb: 40, hours: 2 };

for (const form of FORMS) {
  describe(`built \`vast-mcp serve --sandbox\` with a ${form.name}`, () => {
    it('refuses the client without a token', async () => {
      const r = await rawPost(form.server().url, INITIALIZE);
      expect(r.status).toBe(401);
    });

    it('lists exactly the expected tools and answers a read call', async () => {
      const c = await connectHttp(form.server().url, { token: await form.token() });
      const { tools } = await c.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(EXPECTED_TOOLS);
      const offers = await c.call('offers', { gpu_name: 'RTX 4090', limit: 3 });
      expect(offers.isError).toBeFalsy();
      expect((offers.structuredContent as any).offers.every((o: any) => o.gpu_name === 'RTX 4090')).toBe(true);
      await c.close();
    });

    it('rents through the confirmation-token flow (no elicitation)', async () => {
      const c = await connectHttp(form.server().url, { token: await form.token() });
      const proposal = (await c.call('create', ARGS)).structuredContent as any;
      expect(proposal.status).toBe('needs_confirmation');
      const done = await c.call('create', { ...ARGS, confirmation_token: proposal.confirmation_token });
      expect(done.isError).toBeFalsy();
      expect((done.structuredContent as any).status).toBe('created');
      await c.close();
    });

    it('rents after an elicitation yes, and rents nothing after a no', async () => {
      let answer: 'accept' | 'decline' = 'decline';
      const asked: string[] = [];
      const c = await connectHttp(form.server().url, {
        token: await form.token(),
        onElicit: (p) => {
          asked.push(p.message);
          return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
        },
      });
      const no = (await c.call('create', ARGS)).structuredContent as any;
      expect(no.status).toBe('declined');
      answer = 'accept';
      // A "no" is final for that proposal: the yes is for a different one.
      const yes = (await c.call('create', { ...ARGS, disk_gb: 48 })).structuredContent as any;
      expect(yes.status).toBe('created');
      expect(asked).toHaveLength(2);
      await c.close();
    });
  });
}

describe('serve as a process', () => {
  it('wrote only the listening line on stdout', () => {
    for (const s of servers) expect(s.stdout()).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\/mcp\n$/);
  });

  it('refuses to bind a non-loopback address without authentication', async () => {
    const r = await runCli(['serve', '--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without authentication/);
    expect(r.stdout).toBe('');
  });

  it('token add prints the token once on stdout', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vast-mcp-e2e-tok-')), 't.yaml');
    const r = await runCli(['token', 'add', '--user', 'bob', '--file', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vmcp_[A-Za-z0-9_-]{43}\n$/);
  });

  it('exits cleanly on SIGTERM', async () => {
    const s = await spawnServe(['--sandbox', '--port', '0'], {});
    expect(await s.stop()).toBe(0);
    expect(s.stderr()).toMatch(/shutting down/);
  });
});
