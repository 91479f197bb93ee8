import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { eitherAuthenticator, type Authenticator } from './authenticator.js';
import { checkAlgorithms, DEFAULT_ALGORITHMS, oauthAuthenticator, type OAuthConfig } from './oauth.js';
import { tokenFileAuthenticator } from './token-file.js';

/** How `serve` authenticates, from flags and environment (flags win). See README "Team server". */
export interface AuthSettings {
  tokenFile?: string;
  oauth?: Omit<OAuthConfig, 'audience'> & { audience?: string[] };
}

export interface AuthFlags {
  authTokens?: string;
  oauthIssuer?: string;
  oauthJwksUrl?: string;
}

const list = (text: string | undefined): string[] => (text ?? '').split(/[\s,]+/).filter(Boolean);

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** https, or http on loopback (tests and a local identity provider). */
function secureUrl(name: string, text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(text)}`);
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname)))
    throw new ConfigError(`${name} must be an https URL (http only on loopback), got ${JSON.stringify(text)}`);
  return text;
}

export function authSettingsFrom(flags: AuthFlags, env: NodeJS.ProcessEnv): AuthSettings {
  const tokenFile = flags.authTokens ?? (env.VAST_MCP_AUTH_TOKENS || undefined);
  const issuer = flags.oauthIssuer ?? (env.VAST_MCP_OAUTH_ISSUER || undefined);
  const settings: AuthSettings = tokenFile ? { tokenFile } : {};
  if (!issuer) return settings;
  const jwksUrl = flags.oauthJwksUrl ?? (env.VAST_MCP_OAUTH_JWKS_URL || undefined);
  const tolerance = Number(env.VAST_MCP_OAUTH_CLOCK_TOLERANCE_SECONDS ?? 30);
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 300)
    throw new ConfigError('VAST_MCP_OAUTH_CLOCK_TOLERANCE_SECONDS must be a number of seconds from 0 to 300');
  const audience = list(env.VAST_MCP_OAUTH_AUDIENCE);
  settings.oauth = {
    issuer: secureUrl('--oauth-issuer', issuer),
    ...(jwksUrl ? { jwksUrl: secureUrl('--oauth-jwks-url', jwksUrl) } : {}),
    ...(audience.length ? { audience } : {}),
    userClaim: env.VAST_MCP_OAUTH_USER_CLAIM || 'sub',
    ...(env.VAST_MCP_OAUTH_TEAM_CLAIM ? { teamClaim: env.VAST_MCP_OAUTH_TEAM_CLAIM } : {}),
    requiredScopes: list(env.VAST_MCP_OAUTH_REQUIRED_SCOPES),
    algorithms: checkAlgorithms(env.VAST_MCP_OAUTH_ALGORITHMS ? list(env.VAST_MCP_OAUTH_ALGORITHMS) : DEFAULT_ALGORITHMS),
    clockToleranceSeconds: tolerance,
    ...(env.VAST_MCP_OAUTH_REVOKED_JTI_FILE ? { revokedJtiFile: env.VAST_MCP_OAUTH_REVOKED_JTI_FILE } : {}),
  };
  return settings;
}

export function authConfigured(s: AuthSettings): boolean {
  return Boolean(s.tokenFile || s.oauth);
}

/** The authenticator for the settings (null: none configured). `resource` is this server's MCP URL. */
export function buildAuthenticator(s: AuthSettings, resource: string, logger: Logger): Authenticator | null {
  const file = s.tokenFile ? tokenFileAuthenticator(s.tokenFile, logger.child({ component: 'auth' })) : null;
  const oauth = s.oauth
    ? oauthAuthenticator({ ...s.oauth, audience: s.oauth.audience ?? [resource] }, resource, logger.child({ component: 'oauth' }))
    : null;
  if (file && oauth) return eitherAuthenticator(file, oauth);
  return file ?? oauth;
}
