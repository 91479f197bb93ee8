import { createHash } from 'node:crypto';
import { VastMcpError } from '../errors.js';

/**
 * Who is calling. On stdio there is no authentication: the caller is the local user who started the
 * server (user null, today's behaviour). Over HTTP the auth layer hands the SDK an AuthInfo whose
 * `extra.user` (and optional `extra.team`) name the person; those strings end up in labels, audit
 * records, budget scopes and approval bindings, so they are validated here, never mapped: two
 * different names must never become the same identity.
 */
export interface Caller {
  user: string | null;
  team: string | null;
  authenticated: boolean;
}

/** The structural part of the SDK's AuthInfo we read (no MCP import below tools/). */
export interface AuthLike {
  token?: string;
  clientId?: string;
  scopes?: string[];
  extra?: Record<string, unknown>;
}

export const LOCAL_CALLER: Caller = Object.freeze({ user: null, team: null, authenticated: false });

/** Letters and digits of any script plus `. _ @ + | : = ~ -`; no spaces, controls, bidi or zero-width characters. */
const NAME = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}._@+|:=~-]{0,255}$/u;

export class IdentityError extends VastMcpError {
  constructor(message: string) {
    super(message, 'identity_refused');
    this.name = 'IdentityError';
  }
}

/** A user or team name as the auth layer gave it, NFC-normalised, or an IdentityError (fail closed). */
export function identityName(value: unknown, what: 'user' | 'team'): string {
  if (typeof value !== 'string')
    throw new IdentityError(
      `Refused: the authenticated token carries no ${what} name. Nothing was done; ask the server's operator to fix the token or its mapping.`,
    );
  const name = value.normalize('NFC');
  if (!NAME.test(name))
    throw new IdentityError(
      `Refused: the authenticated ${what} name is not usable (1–256 letters, digits or . _ @ + | : = ~ -, starting with a letter or digit). Nothing was done; ask the server's operator to fix the token or its mapping.`,
    );
  return name;
}

/** The caller of a tool call: local (stdio, no AuthInfo) or an authenticated user with an optional team. */
export function callerOf(authInfo: AuthLike | undefined | null): Caller {
  if (!authInfo) return LOCAL_CALLER;
  const extra = authInfo.extra ?? {};
  const user = identityName(extra.user, 'user');
  const team = extra.team === undefined || extra.team === null ? null : identityName(extra.team, 'team');
  return { user, team, authenticated: true };
}

/** A short stable tag of a user (hex), for labels and token tags: distinct names give distinct tags. */
export function userTag(user: string, length = 6): string {
  return createHash('sha256').update(`vast-mcp-user\0${user}`).digest('hex').slice(0, length);
}

/** How a caller is shown to humans and in logs ("alice (team ml)", "the local user"). */
export function describeCaller(c: Caller): string {
  if (!c.authenticated || c.user === null) return 'the local user';
  return c.team ? `${c.user} (team ${c.team})` : c.user;
}

/** What the audit log records as the actor of a call. */
export function actorOf(
  c: Caller,
  account: string | null = null,
): { user: string | null; team: string | null; authenticated: boolean; account: string | null } {
  return { user: c.user, team: c.team, authenticated: c.authenticated, account };
}
