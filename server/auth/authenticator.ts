import type { VastAuthInfo } from './auth-info.js';

/** RFC 6750 §3.1 error codes a resource server answers with. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export type AuthOutcome =
  | { ok: true; info: VastAuthInfo }
  | { ok: false; status: 400 | 401 | 403 | 503; error: BearerError; description: string; scope?: string };

/** Turns a presented bearer token into an identity, or a refusal that says why (never which secret). */
export interface Authenticator {
  readonly kind: 'bearer-file' | 'oauth' | 'both';
  authenticate(token: string): Promise<AuthOutcome>;
}

export function refuse(description: string, error: BearerError = 'invalid_token', status: 400 | 401 | 403 | 503 = 401): AuthOutcome {
  return { ok: false, status, error, description };
}

/** A compact JWS has three base64url parts; anything else is an opaque token. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);
}

/** Both forms at once: JWTs go to the OAuth verifier, opaque tokens to the token file. */
export function eitherAuthenticator(file: Authenticator, oauth: Authenticator): Authenticator {
  return {
    kind: 'both',
    authenticate: (token) => (looksLikeJwt(token) ? oauth.authenticate(token) : file.authenticate(token)),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** User and team names end up in labels, audit records and dialogs: a small, printable alphabet only. */
export function validName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name);
}
