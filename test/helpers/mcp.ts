import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  ElicitRequestSchema,
  type CallToolResult,
  type ClientCapabilities,
  type ElicitRequest,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningSimulator } from '../../sim/server.js';
import { buildDeps } from '../../server/build-deps.js';
import { loadConfig, type ServerConfig } from '../../server/config.js';
import { createServer } from '../../server/create-server.js';
import type { ServerDeps } from '../../server/deps.js';
import { createLogger } from '../../server/logger.js';
import { SecretRegistry } from '../../server/secrets.js';
import { TEST_KEY } from './sim.js';

export interface Connected {
  client: Client;
  deps: ServerDeps;
  /** Every log line the server wrote. */
  logs: string[];
  /** Every tool result text and structured content seen by `call`. */
  emitted: string[];
  call(
    name: string,
    args?: Record<string, unknown>,
    onprogress?: (p: { progress: number; total?: number; message?: string }) => void,
  ): Promise<CallToolResult>;
  close(): Promise<void>;
}

/**
 * Deps as the server builds them, against a simulator, with fast polls and a logger whose lines are kept:
 * the one setup every in-process test transport (memory, HTTP) starts from.
 */
export function testDeps(
  sim: RunningSimulator,
  opts: { stateDirPrefix: string; key?: string | null; config?: Partial<ServerConfig>; deps?: Partial<ServerDeps> },
): { deps: ServerDeps; logs: string[] } {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const secrets = new SecretRegistry();
  const { config } = loadConfig(
    { apiUrl: sim.url, logLevel: 'debug', stateDir: mkdtempSync(join(tmpdir(), opts.stateDirPrefix)) },
    {},
    '/nonexistent-home',
  );
  config.pollMinMs = 20;
  config.pacing = false;
  config.pollMaxMs = 100;
  config.apiKey = opts.key === undefined ? TEST_KEY : opts.key;
  config.apiKeySource = config.apiKey ? 'env' : 'none';
  Object.assign(config, opts.config ?? {});
  const logger = createLogger('debug', secrets, sink);
  const deps: ServerDeps = {
    ...buildDeps(config, logger, secrets, () => sim.world.now()),
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
    ...(opts.deps ?? {}),
  };
  return { deps, logs };
}

/** A real SDK Client linked in memory to createServer(), against a simulator. */
export async function connectInMemory(
  sim: RunningSimulator,
  opts: {
    key?: string | null;
    capabilities?: ClientCapabilities;
    config?: Partial<ServerConfig>;
    deps?: Partial<ServerDeps>;
    onElicit?: (params: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;
    /** The AuthInfo every request carries, as the HTTP transport hands it over after authentication (read per request). */
    auth?: () => AuthInfo | undefined;
  } = {},
): Promise<Connected> {
  const { deps, logs } = testDeps(sim, { stateDirPrefix: 'vast-mcp-state-', key: opts.key, config: opts.config, deps: opts.deps });
  // As over HTTP, the session belongs to whoever opened it (completions offer what they may see).
  const server = createServer(deps, opts.auth?.());
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const capabilities = opts.capabilities ?? (opts.onElicit ? { elicitation: {} } : {});
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities });
  if (opts.onElicit) {
    const handler = opts.onElicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => handler(req.params));
  }
  if (opts.auth) {
    const auth = opts.auth;
    const send = clientTransport.send.bind(clientTransport);
    clientTransport.send = (message, options) => send(message, { ...options, authInfo: auth() });
  }
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  const emitted: string[] = [];
  return {
    client,
    deps,
    logs,
    emitted,
    async call(name, args = {}, onprogress?: (p: { progress: number; total?: number; message?: string }) => void) {
      const r = (await client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : undefined)) as CallToolResult;
      emitted.push(JSON.stringify(r));
      return r;
    },
    async close() {
      await client.close();
      await server.close();
    },
  };
}

export function textOf(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
