import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';

/**
 * Who is calling, as authentication established it. The SDK hands this to every tool handler as
 * `extra.authInfo` (it travels on the HTTP request as `req.auth`). `user` is the stable user name
 * (bearer file: the entry's user; OAuth: the `sub` claim or the configured user claim); `team` comes
 * from the token file or the configured team claim.
 */
export interface VastAuthInfo extends AuthInfo {
  extra: { user: string; team?: string };
}

export interface AuthInfoParts {
  token?: string;
  clientId?: string;
  scopes?: string[];
  expiresAt?: number;
  resource?: URL;
}

/** The one constructor of an identity: the user name is required, the team optional. */
export function authInfoFor(user: string, team?: string, parts: AuthInfoParts = {}): VastAuthInfo {
  if (!user) throw new Error('authInfoFor needs a user name');
  const extra: VastAuthInfo['extra'] = team ? { user, team } : { user };
  return {
    token: parts.token ?? '',
    clientId: parts.clientId ?? user,
    scopes: parts.scopes ?? [],
    ...(parts.expiresAt !== undefined ? { expiresAt: parts.expiresAt } : {}),
    ...(parts.resource !== undefined ? { resource: parts.resource } : {}),
    extra,
  };
}

/** The authenticated user of a request, or null (stdio, or a loopback server without authentication). */
export function userOf(authInfo: AuthInfo | undefined): { user: string; team?: string } | null {
  const extra = authInfo?.extra as { user?: unknown; team?: unknown } | undefined;
  if (!extra || typeof extra.user !== 'string' || !extra.user) return null;
  return typeof extra.team === 'string' && extra.team ? { user: extra.user, team: extra.team } : { user: extra.user };
}
