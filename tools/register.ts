import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { describeError } from '../server/errors.js';
import type { ServerDeps } from '../server/deps.js';
import { annotationsFor, type ToolContext, type ToolDefinition } from './define-tool.js';
import { usePortableToolList } from './portable-tool-list.js';

export const MAX_TEXT_BYTES = 64 * 1024;
const SIMULATED_NOTE = '[SIMULATED — sandbox simulator, no real account or money]';

export function capText(text: string, max = MAX_TEXT_BYTES): string {
  if (Buffer.byteLength(text) <= max) return text;
  const marker = '\n…[truncated: output exceeded 64 KiB]';
  let cut = text.slice(0, max - marker.length);
  while (Buffer.byteLength(cut) > max - marker.length) cut = cut.slice(0, -1024);
  return cut + marker;
}

/** Registers one tool with the one central catch that turns any thrown error into an error result. */
export function registerTool(server: McpServer, deps: ServerDeps, tool: ToolDefinition): void {
  const output = tool.output.extend({ simulated: z.boolean().optional().describe('True when the answer comes from the simulator') });
  server.registerTool(
    tool.name,
    { title: tool.title, description: tool.description, inputSchema: tool.input, outputSchema: output, annotations: annotationsFor(tool.access, tool.title, tool.idempotent) },
    async (args: unknown, extra): Promise<CallToolResult> => {
      const ctx: ToolContext = {
        deps,
        server,
        extra,
        progress: async (progress, total, message) => {
          const token = extra._meta?.progressToken;
          if (token === undefined) return;
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total, message } });
        },
      };
      try {
        const result = await tool.run(args as never, ctx);
        const data = deps.config.simulated ? { ...result.data, simulated: true } : result.data;
        const text = deps.config.simulated ? `${SIMULATED_NOTE}\n${result.text}` : result.text;
        // Last line of defence: no secret value leaves the process, whatever a handler did.
        const structured = JSON.parse(deps.secrets.scrub(JSON.stringify(data))) as Record<string, unknown>;
        return { content: [{ type: 'text', text: capText(deps.secrets.scrub(text)) }], structuredContent: structured };
      } catch (error) {
        const pub = describeError(error, (id, e) => deps.logger.error({ err: e, correlationId: id, tool: tool.name }, 'tool failed'));
        deps.logger.info({ tool: tool.name, code: pub.code }, 'tool error');
        return { isError: true, content: [{ type: 'text', text: capText(deps.secrets.scrub(pub.message)) }] };
      }
    },
  );
  usePortableToolList(server);
}
