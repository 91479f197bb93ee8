import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ServerDeps } from '../server/deps.js';

/** The dialog-first workflows as MCP prompts (rent, teardown, recovery, cost review) register here. */
export function registerPrompts(server: McpServer, deps: ServerDeps): void {
  void server;
  void deps;
}
