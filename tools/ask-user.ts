import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

export type FormField =
  | { type: 'boolean'; title: string; description?: string; default?: boolean }
  | { type: 'string'; title: string; description?: string; default?: string; maxLength?: number }
  | { type: 'number' | 'integer'; title: string; description?: string; default?: number; minimum?: number; maximum?: number };

export type FormAnswer = { action: 'accept'; content: Record<string, unknown> } | { action: 'decline' | 'cancel' };

export function supportsElicitation(server: McpServer): boolean {
  return Boolean(server.server.getClientCapabilities()?.elicitation);
}

/** Asks the user through an MCP elicitation form (flat object of primitive fields). */
export async function askForm(server: McpServer, message: string, fields: Record<string, FormField>, required: string[]): Promise<FormAnswer> {
  const r = await server.server.elicitInput({ message, requestedSchema: { type: 'object', properties: fields, required } });
  if (r.action === 'accept') return { action: 'accept', content: (r.content ?? {}) as Record<string, unknown> };
  return { action: r.action };
}
