import { ConfigError } from '../errors.js';
import { authConfigured, authSettingsFrom, type AuthFlags } from '../auth/auth-config.js';
import type { HttpServerOptions } from './http-server.js';

export interface HttpFlags extends AuthFlags {
  host?: string;
  port?: number;
  publicUrl?: string;
}

export const DEFAULT_HTTP_PORT = 8787;

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const list = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Defaults < environment < flags. Loopback by default; any other address is refused unless
 * authentication is configured (an open team server would rent GPUs for anyone who can reach it).
 */
export function httpOptionsFrom(flags: HttpFlags, env: NodeJS.ProcessEnv): HttpServerOptions {
  const host = flags.host ?? (env.VAST_MCP_HTTP_HOST || '127.0.0.1');
  const port = flags.port ?? whole(env, 'VAST_MCP_HTTP_PORT', DEFAULT_HTTP_PORT, 0, 65535);
  const auth = authSettingsFrom(flags, env);
  if (!isLoopbackBind(host) && !authConfigured(auth))
    throw new ConfigError(
      `refusing to listen on ${host} without authentication: set --auth-tokens FILE (VAST_MCP_AUTH_TOKENS) or --oauth-issuer URL (VAST_MCP_OAUTH_ISSUER), or bind 127.0.0.1`,
    );
  const publicUrl = flags.publicUrl ?? (env.VAST_MCP_PUBLIC_URL || undefined);
  if (publicUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(publicUrl))
    throw new ConfigError(`--public-url must be an http(s) URL, got ${JSON.stringify(publicUrl)}`);
  const allowedOrigins = list(env.VAST_MCP_ALLOWED_ORIGINS);
  for (const o of allowedOrigins)
    if (!/^https?:\/\/[^\s/]+$/.test(o))
      throw new ConfigError(`VAST_MCP_ALLOWED_ORIGINS: ${JSON.stringify(o)} is not an origin (scheme://host[:port])`);
  return {
    host,
    port,
    ...(publicUrl ? { publicUrl } : {}),
    allowedHosts: list(env.VAST_MCP_ALLOWED_HOSTS),
    allowedOrigins,
    maxBodyBytes: whole(env, 'VAST_MCP_HTTP_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    ratePerMinute: whole(env, 'VAST_MCP_HTTP_RATE_PER_MINUTE', 600, 1, 1_000_000),
    rateBurst: whole(env, 'VAST_MCP_HTTP_RATE_BURST', 120, 1, 1_000_000),
    shutdownGraceMs: whole(env, 'VAST_MCP_SHUTDOWN_GRACE_MS', 30_000, 0, 600_000),
    sessionIdleMs: whole(env, 'VAST_MCP_SESSION_IDLE_MS', 30 * 60_000, 1000, 24 * 3600_000),
    maxSessions: whole(env, 'VAST_MCP_HTTP_MAX_SESSIONS', 1000, 1, 100_000),
    maxSessionsPerUser: whole(env, 'VAST_MCP_HTTP_MAX_SESSIONS_PER_USER', 50, 1, 100_000),
    maxEventsPerSession: whole(env, 'VAST_MCP_HTTP_EVENTS_PER_SESSION', 1000, 10, 100_000),
    auth,
  };
}
