import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type PageDecision = 'approved' | 'declined' | 'expired';

interface Page {
  id: string;
  digest: string;
  title: string;
  message: string;
  expiresAt: number;
  decision: PageDecision | null;
  waiters: ((d: PageDecision) => void)[];
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 4096) break;
  }
  return new URLSearchParams(body);
}

/**
 * A loopback approval page for URL-mode elicitation: the human approves in their browser, outside the
 * chat, so the agent cannot answer for them. Each page is one-time, unguessable (256-bit id), bound to
 * the digest of the exact plan or destroy scope, expires, and is served only on 127.0.0.1 with a Host
 * check (no DNS rebinding) and an Origin check on the decision.
 */
export class ApprovalPages {
  private server: Server | null = null;
  private origin = '';
  private readonly pages = new Map<string, Page>();
  /** Digests the human approved on a page, not yet used by a call. */
  private readonly approved = new Map<string, number>();

  constructor(private readonly now: () => number = () => Date.now() / 1000) {}

  async open(digest: string, title: string, message: string, ttlSeconds: number): Promise<{ url: string; id: string }> {
    await this.listen();
    // Forget pages long past their expiry (decided pages stay until then, to answer the waiting call and refuse reuse).
    for (const [k, p] of this.pages) if (this.now() > p.expiresAt + 60) this.pages.delete(k);
    const id = randomBytes(32).toString('base64url');
    this.pages.set(id, { id, digest, title, message, expiresAt: this.now() + ttlSeconds, decision: null, waiters: [] });
    return { url: `${this.origin}/approve/${id}`, id };
  }

  /** Resolves with the human's decision, or 'expired' after `waitMs` (the page stays open until its TTL). */
  wait(id: string, waitMs: number, signal?: AbortSignal): Promise<PageDecision | 'pending'> {
    const page = this.pages.get(id);
    if (!page) return Promise.resolve('expired');
    if (page.decision) return Promise.resolve(page.decision);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('pending'), waitMs);
      timer.unref();
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve('pending');
        },
        { once: true },
      );
      page.waiters.push((d) => {
        clearTimeout(timer);
        resolve(d);
      });
    });
  }

  /** Uses up an approval the human gave on a page for exactly this digest (single use). */
  takeApproval(digest: string): boolean {
    const at = this.approved.get(digest);
    if (at === undefined) return false;
    this.approved.delete(digest);
    return this.now() <= at;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res).catch(() => this.send(res, 500, 'Error', 'Something went wrong.')));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  private send(res: ServerResponse, status: number, title: string, body: string): void {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
      'Referrer-Policy': 'no-referrer',
    });
    res.end(
      `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:60em;margin:2em auto">${body}</body></html>`,
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.host !== this.origin.slice('http://'.length)) return this.send(res, 421, 'Refused', 'Wrong host.');
    const m = /^\/approve\/([A-Za-z0-9_-]{43})$/.exec(new URL(req.url ?? '/', this.origin).pathname);
    const page = m ? this.pages.get(m[1]!) : undefined;
    if (!page) return this.send(res, 404, 'Not found', 'No such approval page (it was used, expired, or never existed).');
    if (page.decision || this.now() > page.expiresAt) {
      this.finish(page, page.decision ?? 'expired');
      return this.send(res, 410, 'Closed', 'This approval page was already used or has expired. Nothing more will happen from it.');
    }
    if (req.method === 'GET') {
      return this.send(
        res,
        200,
        page.title,
        `<h1>${escapeHtml(page.title)}</h1><pre style="white-space:pre-wrap;background:#f4f4f4;padding:1em">${escapeHtml(page.message)}</pre>` +
          `<form method="post"><input type="hidden" name="digest" value="${escapeHtml(page.digest)}"><button name="decision" value="approve">Approve exactly this</button> <button name="decision" value="decline">Decline</button></form>`,
      );
    }
    if (req.method !== 'POST') return this.send(res, 405, 'Refused', 'Method not allowed.');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) return this.send(res, 403, 'Refused', 'Cross-origin request refused.');
    const form = await readForm(req);
    if (!same(form.get('digest') ?? '', page.digest)) return this.send(res, 409, 'Refused', 'This page was for a different plan.');
    const decision: PageDecision = form.get('decision') === 'approve' ? 'approved' : 'declined';
    if (decision === 'approved') this.approved.set(page.digest, page.expiresAt);
    this.finish(page, decision);
    return this.send(
      res,
      200,
      'Done',
      decision === 'approved' ? 'Approved. You can close this page and return to the chat.' : 'Declined. Nothing will be done.',
    );
  }

  private finish(page: Page, decision: PageDecision): void {
    page.decision = decision;
    for (const w of page.waiters.splice(0)) w(decision);
  }
}
