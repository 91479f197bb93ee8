import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { RunningSimulator } from '../../sim/server.js';
import type { ServerDeps } from '../../server/deps.js';
import { httpOptionsFrom } from '../../server/http/http-options.js';
import type { HttpServerOptions, RunningHttpServer } from '../../server/http/http-server.js';
import { serveHttp } from '../../server/http/serve-http.js';
import { testDeps } from './mcp.js';

export interface TestHttp {
  http: RunningHttpServer;
  /** The MCP endpoint URL. */
  url: string;
  /** http://127.0.0.1:PORT */
  base: string;
  deps: ServerDeps;
  logs: string[];
  close(): Promise<void>;
}

/** The HTTP server in this process, on a free loopback port, against a simulator. */
export async function startTestHttp(
  sim: RunningSimulator,
  env: Record<string, string> = {},
  overrides: Partial<HttpServerOptions> = {},
): Promise<TestHttp> {
  const { deps, logs } = testDeps(sim, { stateDirPrefix: 'vast-mcp-http-' });
  const opts = { ...httpOptionsFrom({ port: 0 }, env), ...overrides };
  const http = await serveHttp(deps, opts);
  return { http, url: http.url, base: http.url.replace(/\/mcp$/, ''), deps, logs, close: () => http.close() };
}

export interface HttpClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  call(name: string, args?: Record<string, unknown>, onprogress?: (p: { progress: number }) => void): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** The SDK's Streamable HTTP client, with a bearer token and optionally an elicitation handler. */
export async function connectHttp(
  url: string,
  opts: { token?: string; onElicit?: (p: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult> } = {},
): Promise<HttpClient> {
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'http-test', version: '1.0.0' }, { capabilities: opts.onElicit ? { elicitation: {} } : {} });
  if (opts.onElicit) {
    const handler = opts.onElicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => handler(req.params));
  }
  await client.connect(transport);
  return {
    client,
    transport,
    call: async (name, args = {}, onprogress) =>
      (await client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : undefined)) as CallToolResult,
    close: () => client.close(),
  };
}

/** A raw JSON-RPC POST, for checking statuses and headers the SDK client hides. */
export async function rawPost(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

/** Platform calls the simulator saw (its own /_sim routes excluded). */
export const platformCalls = (sim: RunningSimulator) => sim.requests.length;
