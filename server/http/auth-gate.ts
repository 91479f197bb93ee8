import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VastAuthInfo } from '../auth/auth-info.js';
import type { Authenticator, AuthOutcome } from '../auth/authenticator.js';

/**
 * The bearer check in front of /mcp (MCP authorization spec "Access token usage"; RFC 6750 §3):
 * a missing token is 401 with the Protected Resource Metadata link and no error code, a bad token
 * 401 error="invalid_token", a token without a required scope 403 error="insufficient_scope".
 * Every request is checked, not only the first of a session: a revoked token stops at once.
 */
export interface GateContext {
  authenticator: Authenticator;
  /** Protected Resource Metadata URL (OAuth), or null (token file only). */
  resourceMetadataUrl: string | null;
}

const quoted = (s: string) => s.replace(/["\\\r\n]/g, ' ');

export function challenge(ctx: GateContext, refusal?: Extract<AuthOutcome, { ok: false }>): string {
  const parts = [ctx.resourceMetadataUrl ? `resource_metadata="${quoted(ctx.resourceMetadataUrl)}"` : 'realm="vast-mcp"'];
  if (refusal) {
    parts.push(`error="${refusal.error}"`, `error_description="${quoted(refusal.description)}"`);
    if (refusal.scope) parts.push(`scope="${quoted(refusal.scope)}"`);
  }
  return `Bearer ${parts.join(', ')}`;
}

/** The presented token, '' when none, null when the header is malformed. */
export function bearerToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return '';
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(h);
  return m ? m[1]! : null;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The identity of the request, or null after answering the refusal. */
export async function authenticate(req: IncomingMessage, res: ServerResponse, ctx: GateContext): Promise<VastAuthInfo | null> {
  const token = bearerToken(req);
  if (token === '') {
    sendJson(res, 401, { error: 'unauthorized', error_description: 'This server needs a bearer token.' }, { 'www-authenticate': challenge(ctx) });
    return null;
  }
  const outcome: AuthOutcome =
    token === null
      ? { ok: false, status: 400, error: 'invalid_request', description: 'The Authorization header must be "Bearer <token>".' }
      : await ctx.authenticator.authenticate(token);
  if (outcome.ok) return outcome.info;
  const headers: Record<string, string> = { 'www-authenticate': challenge(ctx, outcome) };
  if (outcome.status === 503) headers['retry-after'] = '5';
  sendJson(res, outcome.status, { error: outcome.error, error_description: outcome.description }, headers);
  return null;
}
