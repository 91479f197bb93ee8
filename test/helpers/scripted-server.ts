import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Scripted {
  status: number;
  body: string;
  contentType?: string;
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
  /** Close the socket without answering. */
  drop?: boolean;
}

/** A local HTTP server answering from a queue, recording every request (for client tests). */
export async function scriptedServer(
  queue: Scripted[],
): Promise<{ url: string; seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[]; close(): Promise<void> }> {
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const next = queue.shift() ?? { status: 500, body: '{"msg":"script exhausted"}' };
      if (next.drop) {
        req.socket.destroy();
        return;
      }
      res.writeHead(next.status, { 'content-type': next.contentType ?? 'application/json', ...next.headers });
      res.end(next.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
