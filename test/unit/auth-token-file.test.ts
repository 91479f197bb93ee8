import { randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authInfoFor, userOf } from '../../server/auth/auth-info.js';
import { addToken, removeTokens } from '../../server/auth/token-cli.js';
import { matchToken, parseTokenFile, sha256, tokenFileAuthenticator, TOKEN_PREFIX } from '../../server/auth/token-file.js';
import { createLogger } from '../../server/logger.js';
import { SecretRegistry } from '../../server/secrets.js';

const logger = createLogger('silent', new SecretRegistry());
const dir = () => mkdtempSync(join(tmpdir(), 'vast-mcp-tok-'));

describe('hashed bearer token file', () => {
  it('token add prints a fresh token once and stores only its SHA-256, mode 0600', () => {
    const file = join(dir(), 'tokens.yaml');
    const token = addToken(file, 'alice', 'ml', new Date('2026-12-01T00:00:00Z'));
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    expect(text).toContain(sha256(token).toString('hex'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const entries = parseTokenFile(text, file);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ user: 'alice', team: 'ml' });
  });

  it('matches the right entry among many, and nothing for a near miss', () => {
    const file = join(dir(), 'tokens.yaml');
    const tokens = ['a', 'b', 'c'].map((u) => addToken(file, `user-${u}`, undefined));
    const entries = parseTokenFile(readFileSync(file, 'utf8'), file);
    expect(matchToken(entries, tokens[1]!)?.user).toBe('user-b');
    expect(matchToken(entries, `${tokens[1]!.slice(0, -1)}x`)).toBeNull();
    expect(matchToken(entries, '')).toBeNull();
  });

  it('accepts scrypt entries for tokens a person chose', () => {
    const salt = randomBytes(16);
    const hash = scryptSync('correct horse battery staple', salt, 32, { N: 16384, r: 8, p: 1 });
    const text = `tokens:\n  - user: carol\n    scrypt: "scrypt$16384$8$1$${salt.toString('base64url')}$${hash.toString('base64url')}"\n`;
    const entries = parseTokenFile(text, 't.yaml');
    expect(matchToken(entries, 'correct horse battery staple')?.user).toBe('carol');
    expect(matchToken(entries, 'correct horse battery stapler')).toBeNull();
  });

  it.each([
    ['tokens: {}', /must be a list/],
    ['tokens:\n  - team: ml\n    sha256: ' + 'a'.repeat(64), /needs a user/],
    ['tokens:\n  - user: "bad name"\n    sha256: ' + 'a'.repeat(64), /needs a user/],
    ['tokens:\n  - user: dave\n    sha256: abc', /needs sha256/],
    ['tokens:\n  - user: dave\n    scrypt: "scrypt$3$8$1$aa$bb"', /needs sha256/],
    ['tokens: [', /not valid YAML/],
  ])('refuses a bad file %#, naming the problem', (text, says) => {
    expect(() => parseTokenFile(text, 'tokens.yaml')).toThrow(says);
  });

  it('re-reads the file when it changes: a removed user is refused at once, a new one accepted', async () => {
    const file = join(dir(), 'tokens.yaml');
    const alice = addToken(file, 'alice', 'ml');
    const auth = tokenFileAuthenticator(file, logger);
    const ok = await auth.authenticate(alice);
    expect(ok.ok && ok.info.extra).toEqual({ user: 'alice', team: 'ml' });
    const bob = addToken(file, 'bob', undefined);
    expect((await auth.authenticate(bob)).ok).toBe(true);
    expect(removeTokens(file, 'alice')).toBe(1);
    const refused = await auth.authenticate(alice);
    expect(refused).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    expect((await auth.authenticate(bob)).ok).toBe(true);
  });

  it('fails closed when the file turns unreadable or invalid', async () => {
    const file = join(dir(), 'tokens.yaml');
    const alice = addToken(file, 'alice', undefined);
    const auth = tokenFileAuthenticator(file, logger);
    writeFileSync(file, 'tokens: [ broken');
    expect((await auth.authenticate(alice)).ok).toBe(false);
  });

  it('refuses to start on a missing file', () => {
    expect(() => tokenFileAuthenticator(join(dir(), 'nope.yaml'), logger)).toThrow(/could not be read/);
  });
});

describe('identity contract', () => {
  it('authInfoFor builds the SDK AuthInfo with the user (and team) in extra', () => {
    expect(authInfoFor('alice', 'ml')).toEqual({ token: '', clientId: 'alice', scopes: [], extra: { user: 'alice', team: 'ml' } });
    expect(authInfoFor('bob').extra).toEqual({ user: 'bob' });
    expect(userOf(authInfoFor('bob', 'x'))).toEqual({ user: 'bob', team: 'x' });
    expect(userOf(undefined)).toBeNull();
    expect(() => authInfoFor('')).toThrow();
  });
});
