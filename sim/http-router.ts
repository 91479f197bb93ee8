import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimHttpError } from './http-error.js';

export interface SimRequest {
  method: string;
  /** Path without its trailing slash: the API accepts both forms. */
  path: string;
  params: Record<string, string>;
  /** Query values, JSON-decoded where they parse (the CLI JSON-encodes non-strings). */
  query: Record<string, unknown>;
  rawQuery: URLSearchParams;
  body: unknown;
  apiKey: string | null;
}

export interface SimResponse {
  status: number;
  body: unknown;
  /** text/plain instead of JSON. */
  text?: boolean;
}

export type Handler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  auth: boolean;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler, opts: { auth?: boolean } = {}): void {
    const keys: string[] = [];
    const source = path
      .replace(/\/$/, '')
      .split('/')
      .map((part) => {
        if (part.startsWith(':')) {
          keys.push(part.slice(1));
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, auth: opts.auth ?? true, handler });
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | null {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, params };
    }
    return null;
  }
}

export function decodeQuery(search: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of search) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

export async function readBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SimHttpError(413, 'invalid_request', 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function send(res: ServerResponse, r: SimResponse, dateEpochSeconds: number): void {
  // The Date header carries the simulated clock, as a real server's carries its own.
  const date = new Date(dateEpochSeconds * 1000).toUTCString();
  if (r.text) {
    const body = String(r.body);
    res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Date: date });
    res.end(body);
    return;
  }
  const body = JSON.stringify(r.body);
  // The CLI rejects search results unless Content-Type is exactly application/json.
  res.writeHead(r.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Date: date });
  res.end(body);
}

export function errorBody(status: number, code: string, msg: string): SimResponse {
  return { status, body: { success: false, error: code, msg } };
}

export function ok(body: unknown = { success: true }): SimResponse {
  return { status: 200, body };
}
