import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerPrompts } from '../prompts/index.js';
import { registerTools } from '../tools/index.js';
import { registerReferences } from '../references/index.js';
import type { ServerDeps } from './deps.js';
import type { AuthLike } from './identity/caller.js';
import { serverInstructions } from './instructions.js';
import { SERVER_VERSION } from './version.js';
import { SERVER_ICON } from '../tools/tool-icons.js';

/** The one factory every transport and every test uses. */
/** `sessionAuth`: who opened an HTTP session (completions offer only what they may see); stdio has none. */
export function createServer(deps: ServerDeps, sessionAuth?: AuthLike): McpServer {
  const server = new McpServer(
    { name: 'vast-mcp', title: 'Vast.ai GPUs (dialog-first)', version: SERVER_VERSION, icons: [SERVER_ICON] },
    // No `logging` capability: operational messages go to stderr (pino), never to the client; completions come with
    // the completable prompt arguments and resource templates.
    { capabilities: { tools: {}, prompts: {}, resources: {}, completions: {} }, instructions: serverInstructions(deps.config.simulated) },
  );
  registerTools(server, deps);
  registerPrompts(server, deps, sessionAuth);
  registerReferences(server, deps, sessionAuth);
  return server;
}
