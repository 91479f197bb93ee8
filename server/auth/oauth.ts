import { readFileSync, statSync } from 'node:fs';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { authInfoFor } from './auth-info.js';
import { refuse, validName, type Authenticator, type AuthOutcome } from './authenticator.js';

/**
 * OAuth 2.1 resource server (MCP authorization spec, 2025-06-18 and later): access tokens are JWTs
 * from the team's identity provider, checked with `jose` for signature (the issuer's JWKS), issuer,
 * audience (this server's resource URL, RFC 8707), expiry and an algorithm allow-list. "Replayed"
 * here means a captured token presented again when it should no longer work: after its expiry
 * (`exp` is required), after its `jti` was revoked (the revocation file), or at a server it was not
 * issued for (`aud`, the token-passthrough case of the MCP security guide).
 */
export interface OAuthConfig {
  issuer: string;
  /** Accepted `aud` values; the default is this server's resource URL. */
  audience: string[];
  /** The issuer's JWKS; discovered from its metadata (RFC 8414, then OpenID discovery) when absent. */
  jwksUrl?: string;
  userClaim: string;
  teamClaim?: string;
  requiredScopes: string[];
  algorithms: string[];
  clockToleranceSeconds: number;
  /** A file of revoked `jti` values, one per line, re-read when it changes. */
  revokedJtiFile?: string;
}

/** Asymmetric algorithms only: a shared-secret (HS*) key would let anyone holding the JWKS sign. */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

export function checkAlgorithms(list: string[]): string[] {
  for (const a of list)
    if (!ALLOWED_ALGORITHMS.includes(a))
      throw new ConfigError(`VAST_MCP_OAUTH_ALGORITHMS: ${JSON.stringify(a)} is not allowed (use ${ALLOWED_ALGORITHMS.join(', ')})`);
  if (list.length === 0) throw new ConfigError('VAST_MCP_OAUTH_ALGORITHMS is empty');
  return list;
}

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
export function metadataUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/$/, '');
  return [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${u.origin}/.well-known/openid-configuration${path}`,
    `${u.origin}${path}/.well-known/openid-configuration`,
  ];
}

async function discoverJwks(issuer: string): Promise<URL> {
  for (const url of metadataUrls(issuer)) {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
    } catch {
      continue;
    }
    if (!res.ok) continue;
    const meta = (await res.json().catch(() => null)) as { issuer?: unknown; jwks_uri?: unknown } | null;
    // RFC 8414 §3.3: the metadata must name the issuer it was fetched for.
    if (meta?.issuer !== issuer || typeof meta.jwks_uri !== 'string') continue;
    return new URL(meta.jwks_uri);
  }
  throw new Error(`no usable authorization server metadata for ${issuer}`);
}

function revocationList(path: string | undefined, logger: Logger): () => Set<string> | null {
  let stamp = '';
  let ids: Set<string> | null = new Set();
  return () => {
    if (!path) return ids;
    try {
      const st = statSync(path);
      const now = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (now !== stamp) {
        ids = new Set(
          readFileSync(path, 'utf8')
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l && !l.startsWith('#')),
        );
        stamp = now;
      }
    } catch (e) {
      if (ids) logger.error({ file: path, err: (e as Error).message }, 'revocation file unreadable: refusing every token');
      ids = null;
      stamp = '';
    }
    return ids;
  };
}

function scopesOf(p: JWTPayload): string[] {
  if (typeof p.scope === 'string') return p.scope.split(' ').filter(Boolean);
  if (Array.isArray(p.scp)) return p.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/** A claim value as a name: a string, or the first entry of a list (Keycloak groups start with "/"). */
function nameFrom(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string') return undefined;
  const name = v.replace(/^\//, '');
  return validName(name) ? name : undefined;
}

function explain(e: unknown): AuthOutcome {
  if (e instanceof errors.JWTExpired) return refuse('The access token has expired; get a new one from the identity provider.');
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return refuse('The access token was issued for another resource (audience), not this server.');
    if (e.claim === 'iss') return refuse('The access token comes from an issuer this server does not trust.');
    if (e.claim === 'exp' || e.claim === 'nbf' || e.claim === 'iat')
      return refuse(`The access token's ${e.claim} claim is missing or not valid now.`);
    return refuse(`The access token's ${e.claim} claim is not acceptable.`);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return refuse('The access token is signed with an algorithm this server does not accept.');
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey)
    return refuse("The access token's signature does not match the identity provider's keys.");
  if (e instanceof errors.JWKSTimeout) return refuse('The identity provider did not answer in time; try again.', 'invalid_token', 503);
  return refuse('The access token is not a valid signed JWT.');
}

export function oauthAuthenticator(cfg: OAuthConfig, resource: string, logger: Logger): Authenticator {
  checkAlgorithms(cfg.algorithms);
  let jwks: ReturnType<typeof createRemoteJWKSet> | null = cfg.jwksUrl ? createRemoteJWKSet(new URL(cfg.jwksUrl), { timeoutDuration: 5000 }) : null;
  let discovering: Promise<void> | null = null;
  const revoked = revocationList(cfg.revokedJtiFile, logger);
  if (revoked() === null) throw new ConfigError(`${cfg.revokedJtiFile}: the revocation file could not be read`);
  const keys = async () => {
    if (jwks) return jwks;
    discovering ??= discoverJwks(cfg.issuer)
      .then((u) => {
        jwks = createRemoteJWKSet(u, { timeoutDuration: 5000 });
      })
      .finally(() => {
        discovering = null;
      });
    await discovering;
    return jwks!;
  };
  return {
    kind: 'oauth',
    async authenticate(token: string): Promise<AuthOutcome> {
      let set: Awaited<ReturnType<typeof keys>>;
      try {
        set = await keys();
      } catch (e) {
        logger.error({ issuer: cfg.issuer, err: (e as Error).message }, 'cannot reach the identity provider metadata');
        return refuse('The identity provider cannot be reached to check the token; try again.', 'invalid_token', 503);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, set, {
          issuer: cfg.issuer,
          audience: cfg.audience,
          algorithms: cfg.algorithms,
          clockTolerance: cfg.clockToleranceSeconds,
          requiredClaims: ['exp'],
        }));
      } catch (e) {
        logger.info({ reason: (e as { code?: string }).code ?? 'invalid' }, 'access token refused');
        return explain(e);
      }
      const list = revoked();
      if (!list) return refuse('The server cannot check revocations right now.', 'invalid_token', 503);
      if (typeof payload.jti === 'string' && list.has(payload.jti)) return refuse('The access token has been revoked.');
      const user = nameFrom(payload[cfg.userClaim]);
      if (!user) return refuse(`The access token has no usable ${cfg.userClaim} claim to name the user.`);
      const scopes = scopesOf(payload);
      const missing = cfg.requiredScopes.filter((s) => !scopes.includes(s));
      if (missing.length > 0)
        return {
          ok: false,
          status: 403,
          error: 'insufficient_scope',
          description: `The access token lacks the scope ${missing.join(' ')}.`,
          scope: cfg.requiredScopes.join(' '),
        };
      const team = cfg.teamClaim ? nameFrom(payload[cfg.teamClaim]) : undefined;
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : user;
      return { ok: true, info: authInfoFor(user, team, { token, clientId, scopes, expiresAt: payload.exp, resource: new URL(resource) }) };
    },
  };
}
