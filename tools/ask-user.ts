import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

export type FormField =
  | { type: 'boolean'; title: string; description?: string; default?: boolean }
  | { type: 'string'; title: string; description?: string; default?: string; maxLength?: number }
  | { type: 'number' | 'integer'; title: string; description?: string; default?: number; minimum?: number; maximum?: number };

export type FormAnswer = { action: 'accept'; content: Record<string, unknown> } | { action: 'decline' | 'cancel' };

/**
 * Which elicitation modes the client declared. An empty `elicitation: {}` means forms (the spec's
 * backwards-compatible default); `{ url: {} }` alone means URL mode only.
 */
export function elicitationModes(server: McpServer): { form: boolean; url: boolean } {
  const e = server.server.getClientCapabilities()?.elicitation as { form?: unknown; url?: unknown } | undefined;
  if (!e) return { form: false, url: false };
  const form = Boolean(e.form) || (!e.form && !e.url);
  return { form, url: Boolean(e.url) };
}

export function supportsElicitation(server: McpServer): boolean {
  return elicitationModes(server).form;
}

/** Asks the user through an MCP elicitation form (flat object of primitive fields). */
export async function askForm(
  server: McpServer,
  message: string,
  fields: Record<string, FormField>,
  required: string[],
  signal?: AbortSignal,
): Promise<FormAnswer> {
  const r = await server.server.elicitInput(
    { message, requestedSchema: { type: 'object', properties: fields, required } },
    signal ? { signal } : undefined,
  );
  if (r.action === 'accept') return { action: 'accept', content: (r.content ?? {}) as Record<string, unknown> };
  return { action: r.action };
}
