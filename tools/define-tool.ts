import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { z } from 'zod';
import type { ServerDeps } from '../server/deps.js';

/** One access level per tool; every annotation is derived from it so hints cannot contradict behaviour. */
export type Access = 'read' | 'write' | 'destructive';

export function annotationsFor(access: Access, title: string, idempotent?: boolean): ToolAnnotations {
  return {
    title,
    readOnlyHint: access === 'read',
    destructiveHint: access === 'destructive',
    // Reads are repeatable; destroy of a destroyed instance is a harmless no-op; writes (rent, start…) are not.
    idempotentHint: idempotent ?? access !== 'write',
    openWorldHint: true,
  };
}

export interface ToolContext {
  deps: ServerDeps;
  server: McpServer;
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>;
  /** Sends a progress notification when the client asked for them; otherwise does nothing. */
  progress(progress: number, total: number | undefined, message: string): Promise<void>;
}

export interface ToolResult<O> {
  data: O;
  /** A short human summary, not a JSON dump. */
  text: string;
  /**
   * The summary put into structuredContent (`summary`), for when `text` carries fenced instance
   * output that structuredContent already holds in an untrusted envelope. Default: `text`.
   */
  summary?: string;
  /** What the model must do next ("ask the user; do not call again without their approval"). */
  nextStep?: string;
  /** Billing facts the user must hear ("disk keeps billing while stopped"). */
  billingWarnings?: string[];
}

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  access: Access;
  /** Overrides the idempotent hint derived from `access` (e.g. a destructive tool whose repeat is not a no-op). */
  idempotent?: boolean;
  input: I;
  output: O;
  run(input: z.infer<I>, ctx: ToolContext): Promise<ToolResult<z.infer<O>>>;
}

export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}
