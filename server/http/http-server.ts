import { createServer as createNodeServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { buildAuthenticator, type AuthSettings } from '../auth/auth-config.js';
import type { VastAuthInfo } from '../auth/auth-info.js';
import type { AuthLike } from '../identity/caller.js';
import type { Logger } from '../logger.js';
import { authenticate, sendJson, type GateContext } from './auth-gate.js';
import { checkOrigin, originPolicy } from './origin-guard.js';
import { RateLimiter } from './rate-limit.js';
import { SessionRegistry } from './sessions.js';
import { protectedResourceMetadata, resourceUrls } from './resource-metadata.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  /** The URL clients use (behind a proxy or load balancer); default http://HOST:PORT. */
  publicUrl?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
  maxBodyBytes: number;
  ratePerMinute: number;
  rateBurst: number;
  shutdownGraceMs: number;
  sessionIdleMs: number;
  maxSessions: number;
  /** Open sessions one user may hold (the oldest idle ones are closed by the sweep). */
  maxSessionsPerUser: number;
  maxEventsPerSession: number;
  auth: AuthSettings;
  /** Refused tokens allowed per client address before 429 (default 60 per minute, burst 30). */
  refusedLogins?: { perMinute: number; burst: number };
}

export interface RunningHttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:8787/mcp. */
  url: string;
  port: number;
  sessions(): number;
  /** Graceful: stop accepting, let calls in flight finish within the grace period, close the sessions. */
  close(): Promise<void>;
}

const rpcError = (message: string) => ({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });

/** Serves MCP over Streamable HTTP: one McpServer per session, made by `makeServer`. */
export async function startHttpServer(
  opts: HttpServerOptions,
  makeServer: (auth: AuthLike | undefined) => McpServer,
  logger: Logger,
): Promise<RunningHttpServer> {
  const http = createNodeServer();
  // Idle keep-alive sockets outlive the clients' (undici keeps 4 s) and a balancer's, so a client never
  // sends a request on a socket the server is closing (a POST is not retried: "fetch failed").
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  http.requestTimeout = 0; // SSE responses are long; the request itself is bounded by headersTimeout and the body limit.
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const urls = resourceUrls(opts.publicUrl ?? `http://${hostForUrl}:${port}`);
  const authenticator = buildAuthenticator(opts.auth, urls.resource, logger);
  const gate: GateContext | null = authenticator ? { authenticator, resourceMetadataUrl: opts.auth.oauth ? urls.metadata : null } : null;
  const named = opts.host === '0.0.0.0' || opts.host === '::' ? [] : [opts.host];
  const policy = originPolicy(port, opts.publicUrl, [...named, ...opts.allowedHosts], opts.allowedOrigins);
  const perUser = new RateLimiter(opts.ratePerMinute, opts.rateBurst);
  const refusedLogins = new RateLimiter(opts.refusedLogins?.perMinute ?? 60, opts.refusedLogins?.burst ?? 30);
  const sessions = new SessionRegistry(
    makeServer,
    { maxBodyBytes: opts.maxBodyBytes, maxEventsPerSession: opts.maxEventsPerSession, idleMs: opts.sessionIdleMs },
    logger,
  );
  let inFlight = 0;
  let draining = false;
  const sweep = setInterval(() => void sessions.sweep(), Math.min(60_000, opts.sessionIdleMs)).unref();

  async function serveMcp(req: IncomingMessage & { auth?: VastAuthInfo }, res: ServerResponse, user: string | null): Promise<void> {
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const s = sessions.find(sid, user);
      if (!s) return sendJson(res, 404, rpcError('Session not found: start a new session (initialize).'));
      if (req.method === 'POST') {
        s.inFlight++;
        res.once('close', () => s.inFlight--);
      }
      return s.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return sendJson(res, 400, rpcError('Mcp-Session-Id header required.'));
    if (sessions.size >= opts.maxSessions) return sendJson(res, 503, rpcError('Too many open sessions; try again later.'), { 'retry-after': '30' });
    if (sessions.countOf(user) >= opts.maxSessionsPerUser)
      return sendJson(res, 429, rpcError('Too many open sessions for this user: close some (DELETE) or wait for idle ones to expire.'), {
        'retry-after': '60',
      });
    const fresh = await sessions.open(user, req.auth);
    await fresh.transport.handleRequest(req, res);
    // Not an initialize request (the transport answered 400): nothing to keep.
    if (!fresh.registered()) await fresh.discard();
  }

  async function handle(req: IncomingMessage & { auth?: VastAuthInfo }, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // Health first: load balancers probe replicas by address, with their own Host header; it says nothing secret.
    if (path === '/healthz') return sendJson(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ok', sessions: sessions.size });
    const bad = checkOrigin(req, policy);
    if (bad) {
      logger.warn({ host: req.headers.host, origin: req.headers.origin }, `request refused: ${bad}`);
      return sendJson(res, 403, rpcError(`Forbidden: ${bad}.`));
    }
    if (draining) return sendJson(res, 503, rpcError('Server shutting down; reconnect.'), { connection: 'close', 'retry-after': '1' });
    if (path === urls.metadataPath || path === '/.well-known/oauth-protected-resource') {
      if (!opts.auth.oauth || req.method !== 'GET') return sendJson(res, 404, { error: 'not_found' });
      return sendJson(res, 200, protectedResourceMetadata(urls.resource, opts.auth.oauth));
    }
    if (path !== '/mcp') return sendJson(res, 404, { error: 'not_found', error_description: 'The MCP endpoint is /mcp.' });
    let user: string | null = null;
    if (gate) {
      const client = req.socket.remoteAddress ?? 'unknown';
      const info = await authenticate(req, res, gate);
      if (!info) {
        refusedLogins.take(client);
        return;
      }
      req.auth = info;
      user = info.extra.user;
    }
    if (req.method === 'POST') {
      const wait = perUser.take(user ?? 'local');
      if (wait > 0) return sendJson(res, 429, rpcError(`Too many requests; retry in ${wait} s.`), { 'retry-after': String(wait) });
    }
    // Calls in flight are POSTs; a GET is a standing notification stream and never "finishes".
    if (req.method === 'POST') {
      inFlight++;
      res.once('close', () => inFlight--);
    }
    await serveMcp(req, res, user);
  }

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Refused logins from one address are slowed down before any token is checked.
    if (gate && req.headers.authorization !== undefined && refusedLogins.exhausted(req.socket.remoteAddress ?? 'unknown'))
      return sendJson(res, 429, rpcError('Too many refused tokens from this address; wait a minute.'), { 'retry-after': '60' });
    handle(req, res).catch((e: unknown) => {
      logger.error({ err: e }, 'HTTP request failed');
      sendJson(res, 500, rpcError('Internal server error.'));
    });
  });

  return {
    url: urls.resource,
    port,
    sessions: () => sessions.size,
    async close() {
      if (draining) return;
      draining = true;
      clearInterval(sweep);
      http.close();
      http.closeIdleConnections();
      const deadline = performance.now() + opts.shutdownGraceMs;
      while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (inFlight > 0) logger.warn({ inFlight }, 'shutdown grace period over; closing calls still in flight');
      await sessions.closeAll('server shutting down');
      http.closeAllConnections();
    },
  };
}
