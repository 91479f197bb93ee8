import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthLike } from '../identity/caller.js';
import type { Logger } from '../logger.js';
import { BoundedEventStore } from './event-store.js';

/**
 * The MCP sessions of this process: one McpServer (from createServer) and one transport each,
 * bound to the user who opened it. Sessions are process-local by nature (an open SSE stream lives
 * in one process), so a load balancer must route a session's requests to the replica that opened it
 * (by the Mcp-Session-Id header); everything a tool needs beyond the session lives in the shared store.
 */
export interface Session {
  id: string;
  user: string | null;
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  lastSeenMs: number;
  inFlight: number;
}

export interface SessionOptions {
  maxBodyBytes: number;
  maxEventsPerSession: number;
  idleMs: number;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly makeServer: (auth: AuthLike | undefined) => McpServer,
    private readonly opts: SessionOptions,
    private readonly logger: Logger,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Open sessions of one user (a per-user cap keeps one user from taking every slot). */
  countOf(user: string | null): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.user === user) n++;
    return n;
  }

  /** The session, only for the user who opened it (another user's id is "not found", never "forbidden"). */
  find(id: string, user: string | null): Session | null {
    const s = this.sessions.get(id);
    if (!s || s.user !== user) return null;
    s.lastSeenMs = this.nowMs();
    return s;
  }

  /** A transport for a request that carries no session id; it becomes a session when it initializes. */
  async open(
    user: string | null,
    auth?: AuthLike,
  ): Promise<{ transport: StreamableHTTPServerTransport; registered: () => boolean; discard: () => Promise<void> }> {
    let entry: Session | null = null;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(this.opts.maxEventsPerSession),
      maxRequestBodySize: this.opts.maxBodyBytes,
      onsessioninitialized: (id) => {
        entry = { id, user, transport, server, lastSeenMs: this.nowMs(), inFlight: 0 };
        this.sessions.set(id, entry);
        this.logger.info({ session: id, user }, 'MCP session opened');
      },
      onsessionclosed: (id) => void this.close(id, 'deleted by the client'),
    });
    const server = this.makeServer(auth);
    transport.onclose = () => {
      if (entry) this.sessions.delete(entry.id);
    };
    await server.connect(transport);
    return {
      transport,
      registered: () => entry !== null,
      discard: async () => {
        await server.close().catch(() => undefined);
      },
    };
  }

  async close(id: string, why: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.logger.info({ session: id, user: s.user, why }, 'MCP session closed');
    await s.server.close().catch(() => undefined);
  }

  /** Closes sessions idle longer than the idle limit with nothing in flight. */
  async sweep(): Promise<number> {
    const cutoff = this.nowMs() - this.opts.idleMs;
    const idle = [...this.sessions.values()].filter((s) => s.inFlight === 0 && s.lastSeenMs < cutoff);
    for (const s of idle) await this.close(s.id, 'idle');
    return idle.length;
  }

  async closeAll(why: string): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id, why)));
  }
}
