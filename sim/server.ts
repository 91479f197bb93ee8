import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultPlan, parseFaultSpec } from './faults.js';
import { SimHttpError } from './http-error.js';
import { Router, decodeQuery, errorBody, readBody, send, type SimRequest, type SimResponse } from './http-router.js';
import type { RequestRecord } from './request-log.js';
import { registerAccountRoutes } from './routes/account.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerBillingRoutes } from './routes/billing.js';
import type { RouteContext } from './routes/context.js';
import { registerInstanceRoutes } from './routes/instances.js';
import { registerLogRoutes } from './routes/logs.js';
import { registerOfferRoutes } from './routes/offers.js';
import { registerCloudRoutes } from './routes/cloud.js';
import { SimWorld } from './world.js';
import { SshManager, DEFAULT_PROXY_BYTES_PER_SECOND } from './ssh/manager.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { LENIENT_SIM, resolveFidelity, type FidelityOptions } from './fidelity.js';
import { RateLimiter } from './rate-limits.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SimulatorOptions {
  port?: number;
  host?: string;
  apiKey: string;
  seed?: string | number;
  offers?: number;
  timeScale?: number;
  startingCredit?: number;
  logReadyDelayMs?: number;
  /** Real SSH endpoints and files per instance (default true). */
  ssh?: boolean;
  /** Where instance files live (default: a fresh temporary directory, removed at close). */
  dataDir?: string;
  /** The SSH proxy's throttle, bytes/second (the direct endpoint is not throttled). */
  proxyBytesPerSecond?: number;
  /** Probabilistic faults, e.g. "429:0.05,503:0.02,drop_create:0.01" (seeded by `seed`). */
  faults?: string;
  /**
   * Enforce the platform's documented rate limits per endpoint and key (answers 429 like the real
   * API). ON by default; `false` turns them off (shorthand for `fidelity.rateLimits`).
   */
  rateLimits?: boolean;
  /**
   * Realistic behaviours (sim/fidelity.ts); every one defaults to the realistic reading.
   * `'lenient'` is the old, kinder simulator (synchronous, no limits, any image runs).
   */
  fidelity?: Partial<FidelityOptions> | 'realistic' | 'lenient';
}

export interface RunningSimulator {
  url: string;
  port: number;
  world: SimWorld;
  requests: RequestRecord[];
  faults: FaultPlan;
  ssh: SshManager | null;
  /** How many requests the rate limiter refused. */
  rateLimitHits(): number;
  close(): Promise<void>;
}

export const DEFAULT_SIM_OFFERS = 2400;
const MAX_RECORDED = 20_000;

function authOf(req: IncomingMessage, url: URL): { key: string | null; via: RequestRecord['auth'] } {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return { key: header.slice(7).trim(), via: 'bearer' };
  const q = url.searchParams.get('api_key');
  if (q) return { key: q, via: 'query' };
  return { key: null, via: 'none' };
}

/** Starts the Vast-compatible simulator on loopback. Port 0 picks a free port. */
export async function startSimulator(opts: SimulatorOptions): Promise<RunningSimulator> {
  const offers = opts.offers ?? DEFAULT_SIM_OFFERS;
  if (!Number.isInteger(offers) || offers < 1 || offers > 100_000) throw new Error('offers must be a whole number from 1 to 100000');
  const world = new SimWorld({
    seed: opts.seed ?? 1,
    offers,
    apiKey: opts.apiKey,
    timeScale: opts.timeScale ?? 1,
    startingCredit: opts.startingCredit ?? 250,
    deletionGraceSeconds: 86400,
    fidelity: resolveFidelity(opts.fidelity === 'lenient' ? LENIENT_SIM : opts.fidelity === 'realistic' ? {} : opts.fidelity, opts.rateLimits),
  });
  const host = opts.host ?? '127.0.0.1';
  const router = new Router();
  const requests: RequestRecord[] = [];
  const faults = new FaultPlan(opts.seed ?? 1);
  for (const rule of opts.faults ? parseFaultSpec(opts.faults) : []) faults.add(rule);
  const limiter = new RateLimiter();
  let baseUrl = '';
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'vast-sim-'));
  const ssh = opts.ssh === false ? null : new SshManager(world, dataDir, opts.proxyBytesPerSecond ?? DEFAULT_PROXY_BYTES_PER_SECOND);
  const ctx: RouteContext = {
    world,
    router,
    ssh,
    baseUrl: () => baseUrl,
    rowContext: () => ({
      now: world.now(),
      sshHost: host,
      publicHost: host,
      oddShapes: world.fidelity.oddShapes,
      portsWhenDown: world.fidelity.portsWhenDown,
    }),
  };
  registerOfferRoutes(ctx);
  registerInstanceRoutes(ctx);
  registerAccountRoutes(ctx);
  registerLogRoutes(ctx, opts.logReadyDelayMs ?? 300);
  registerBillingRoutes(ctx);
  registerAdminRoutes(ctx, requests, faults);
  registerCloudRoutes(ctx);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const auth = authOf(req, url);
    const record: RequestRecord = { at: world.now(), method, path, query: {}, auth: auth.via, status: 0, unexpected: false };
    const params = new URLSearchParams(url.searchParams);
    params.delete('api_key');
    record.query = decodeQuery(params);
    if (!path.startsWith('/_sim/')) {
      requests.push(record);
      if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);
    }
    let response: SimResponse;
    try {
      const matched = router.match(method, path);
      if (!matched) {
        record.unexpected = true;
        response = errorBody(404, 'not_found', `No such API route: ${method} ${url.pathname}`);
      } else if (matched.route.auth && auth.key !== world.account.apiKey) {
        response = errorBody(401, 'auth_error', 'Invalid user key');
      } else {
        const refused = world.fidelity.rateLimits ? limiter.check(method, path, auth.key) : null;
        if (refused) {
          record.status = 429;
          res.writeHead(429, { 'Content-Type': refused.contentType });
          res.end(refused.body);
          return;
        }
        const fault = matched.route.auth ? faults.take(method, path) : null;
        if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
        if (fault?.kind === 'error') {
          record.status = fault.status ?? 500;
          const json = fault.body?.trimStart().startsWith('{');
          res.writeHead(record.status, {
            'Content-Type': json ? 'application/json' : 'text/plain',
            ...(fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {}),
          });
          res.end(fault.body ?? 'Internal Server Error');
          return;
        }
        const text = await readBody(req);
        let body: unknown;
        if (text.trim()) {
          try {
            body = JSON.parse(text);
          } catch {
            throw new SimHttpError(400, 'invalid_request', 'Invalid json body');
          }
        }
        const simReq: SimRequest = { method, path, params: matched.params, query: record.query, rawQuery: params, body, apiKey: auth.key };
        if (fault?.kind === 'late_commit') {
          // The client hears nothing; the platform commits the request later, after its reconciliation may have looked.
          record.status = -1;
          req.socket.destroy();
          const route = matched.route;
          setTimeout(() => {
            world.tick();
            void Promise.resolve(route.handler(simReq)).catch(() => undefined);
          }, fault.delayMs ?? 1500);
          return;
        }
        world.tick();
        response = await matched.route.handler(simReq);
        if (fault?.kind === 'drop_response') {
          // The request took effect; the client never hears about it.
          record.status = -1;
          req.socket.destroy();
          return;
        }
      }
    } catch (e) {
      if (e instanceof SimHttpError) response = errorBody(e.status, e.code, e.message);
      else {
        if (process.env.VAST_SIM_DEBUG) process.stderr.write(`sim error: ${(e as Error).stack}\n`);
        response = errorBody(500, 'server_error', 'Internal simulator error');
      }
    }
    record.status = response.status;
    send(res, response, world.now());
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, errorBody(500, 'server_error', 'Internal simulator error'), world.now());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host}:${port}`;
  return {
    url: baseUrl,
    port,
    world,
    requests,
    faults,
    ssh,
    rateLimitHits: () => limiter.hits,
    close: async () => {
      await ssh?.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
