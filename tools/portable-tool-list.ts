import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ListToolsResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { portableSchema, withLimitsInDescriptions } from './portable-schema.js';
import { iconsFor } from './tool-icons.js';

type RawHandler = (request: unknown, extra: unknown) => Promise<unknown>;
interface HandlerTable {
  _requestHandlers?: Map<string, RawHandler>;
}

const wrapped = new WeakSet<object>();

/** One listed tool as every common client accepts it: portable schemas, limits in words, an icon per access level. */
export function portableTool(tool: Tool): Tool {
  const inputSchema = withLimitsInDescriptions(portableSchema(tool.inputSchema));
  const out: Tool = { ...tool, inputSchema };
  if (tool.outputSchema) out.outputSchema = portableSchema(tool.outputSchema);
  if (!tool.icons) out.icons = iconsFor(tool.annotations);
  return out;
}

/**
 * The SDK (1.32) builds `tools/list` from zod on every call and offers no hook into it, so its handler is wrapped once
 * per server, after the first tool is registered. The tool-schema tests fail if the SDK stops storing handlers this way.
 */
export function usePortableToolList(server: McpServer): void {
  const protocol = server.server as unknown as HandlerTable;
  if (wrapped.has(protocol)) return;
  const handlers = protocol._requestHandlers;
  const original = handlers?.get('tools/list');
  if (!handlers || !original) return;
  wrapped.add(protocol);
  handlers.set('tools/list', async (request, extra) => {
    const result = (await original(request, extra)) as ListToolsResult;
    return { ...result, tools: result.tools.map(portableTool) };
  });
}
