import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerPrompts } from '../prompts/index.js';
import { registerTools } from '../tools/index.js';
import { registerReferences } from '../references/index.js';
import type { ServerDeps } from './deps.js';
import { serverInstructions } from './instructions.js';
import { SERVER_VERSION } from './version.js';

/** The one factory every transport and every test uses. */
export function createServer(deps: ServerDeps): McpServer {
  const server = new McpServer(
    { name: 'vast-mcp', version: SERVER_VERSION },
    { capabilities: { tools: {}, prompts: {}, resources: {}, logging: {} }, instructions: serverInstructions(deps.config.simulated) },
  );
  registerTools(server, deps);
  registerPrompts(server, deps);
  registerReferences(server, deps);
  return server;
}
