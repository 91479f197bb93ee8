import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
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
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/** A real SDK Client linked in memory to createServer(), against a simulator. */
export async function connectInMemory(sim: RunningSimulator, opts: { key?: string | null; capabilities?: ClientCapabilities; config?: Partial<ServerConfig> } = {}): Promise<Connected> {
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const secrets = new SecretRegistry();
  const { config } = loadConfig({ apiUrl: sim.url, logLevel: 'debug' }, {}, '/nonexistent-home');
  config.apiKey = opts.key === undefined ? TEST_KEY : opts.key;
  config.apiKeySource = config.apiKey ? 'env' : 'none';
  Object.assign(config, opts.config ?? {});
  const logger = createLogger('debug', secrets, sink);
  const deps = buildDeps(config, logger, secrets, () => sim.world.now());
  const server = createServer(deps);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  const emitted: string[] = [];
  return {
    client,
    deps,
    logs,
    emitted,
    async call(name, args = {}) {
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
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
