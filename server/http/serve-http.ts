import type { ServerDeps } from '../deps.js';
import { createServer } from '../create-server.js';
import type { Logger } from '../logger.js';
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from './http-server.js';
import { sessionDeps } from './session-deps.js';

/** Streamable HTTP around the one server factory: every session gets createServer(its own deps). */
export function serveHttp(shared: ServerDeps, opts: HttpServerOptions, logger: Logger = shared.logger): Promise<RunningHttpServer> {
  return startHttpServer(opts, (auth) => createServer(sessionDeps(shared), auth), logger.child({ component: 'http' }));
}
