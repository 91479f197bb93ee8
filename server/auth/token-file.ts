import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { authInfoFor } from './auth-info.js';
import { refuse, validName, type Authenticator, type AuthOutcome } from './authenticator.js';

/**
 * A file of hashed per-user bearer tokens (YAML):
 *   tokens:
 *     - { user: alice, team: ml, sha256: <64 hex> }
 *     - { user: bob, scrypt: "scrypt$16384$8$1$<salt b64url>$<hash b64url>" }
 * Tokens made by `vast-mcp token add` carry 256 random bits, so a plain SHA-256 is enough; scrypt is
 * accepted for tokens a person chose. The file is re-read when it changes (removing a line revokes a
 * token on every replica that shares the file); an unreadable or invalid file refuses every token.
 */
export interface TokenEntry {
  user: string;
  team?: string;
  sha256?: Buffer;
  scrypt?: { n: number; r: number; p: number; salt: Buffer; hash: Buffer };
}

export const TOKEN_PREFIX = 'vmcp_';

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** A new random token (shown once) and its stored form. */
export function newToken(): { token: string; sha256: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, sha256: sha256(token).toString('hex') };
}

function parseScrypt(text: string): TokenEntry['scrypt'] {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(text);
  if (!m) return undefined;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (n < 1024 || n > 1 << 20 || (n & (n - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  return { n, r, p, salt: Buffer.from(m[4]!, 'base64url'), hash: Buffer.from(m[5]!, 'base64url') };
}

/** Parses the token file's text; throws ConfigError naming the bad entry (never a hash). */
export function parseTokenFile(text: string, where: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ConfigError(`${where}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  const list = (doc as { tokens?: unknown } | null)?.tokens ?? [];
  if (!Array.isArray(list)) throw new ConfigError(`${where}: "tokens" must be a list`);
  return list.map((raw, i): TokenEntry => {
    const e = raw as Record<string, unknown>;
    if (!e || typeof e !== 'object') throw new ConfigError(`${where}: entry ${i + 1} is not a mapping`);
    if (!validName(e.user)) throw new ConfigError(`${where}: entry ${i + 1} needs a user (letters, digits, . _ @ + -)`);
    if (e.team !== undefined && !validName(e.team)) throw new ConfigError(`${where}: entry ${i + 1} has an invalid team name`);
    const entry: TokenEntry = { user: e.user, ...(e.team ? { team: e.team as string } : {}) };
    if (typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(e.sha256)) entry.sha256 = Buffer.from(e.sha256, 'hex');
    else if (typeof e.scrypt === 'string') entry.scrypt = parseScrypt(e.scrypt);
    if (!entry.sha256 && !entry.scrypt)
      throw new ConfigError(`${where}: entry ${i + 1} (user ${e.user}) needs sha256 (64 hex digits) or scrypt (scrypt$N$r$p$salt$hash)`);
    return entry;
  });
}

/** Every entry is compared (no early exit) so the time taken does not say which entry was close. */
export function matchToken(entries: readonly TokenEntry[], token: string): TokenEntry | null {
  const digest = sha256(token);
  let found: TokenEntry | null = null;
  for (const e of entries) if (e.sha256 && timingSafeEqual(e.sha256, digest) && !found) found = e;
  if (found) return found;
  for (const e of entries) {
    const s = e.scrypt;
    if (!s) continue;
    const got = scryptSync(token, s.salt, s.hash.length, { N: s.n, r: s.r, p: s.p, maxmem: 256 * s.n * s.r + 1024 * 1024 });
    if (timingSafeEqual(got, s.hash) && !found) found = e;
  }
  return found;
}

/** Authenticates against the token file, re-reading it when its size or modification time changes. */
export function tokenFileAuthenticator(path: string, logger: Logger): Authenticator {
  let stamp = '';
  let entries: TokenEntry[] | null = null;
  const load = (): TokenEntry[] | null => {
    try {
      const st = statSync(path);
      const now = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (now !== stamp) {
        stamp = now;
        entries = parseTokenFile(readFileSync(path, 'utf8'), path);
        logger.info({ file: path, entries: entries.length }, 'bearer token file loaded');
      }
    } catch (e) {
      if (entries !== null || stamp !== 'broken')
        logger.error({ file: path, err: (e as Error).message }, 'bearer token file unusable: refusing every token');
      stamp = 'broken';
      entries = null;
    }
    return entries;
  };
  if (load() === null) throw new ConfigError(`${path}: the bearer token file could not be read or parsed`);
  return {
    kind: 'bearer-file',
    async authenticate(token: string): Promise<AuthOutcome> {
      const list = load();
      if (!list) return refuse('The server cannot check tokens right now.', 'invalid_token');
      const e = matchToken(list, token);
      if (!e) return refuse('The bearer token is not known (revoked, mistyped, or from another server).');
      return { ok: true, info: authInfoFor(e.user, e.team, { token, clientId: `token:${e.user}` }) };
    },
  };
}
