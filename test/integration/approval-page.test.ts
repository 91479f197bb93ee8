import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { ApprovalPages, escapeHtml } from '../../server/safety/approval-page.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
beforeEach(() => {
  sim = env.sim();
});
const live = () => sim.world.liveInstances();
const ARGS = { gpu_name: 'RTX 4090', disk_gb: 40, hours: 5 };
const URL_ONLY = { elicitation: { url: {} } } as any;

async function decide(url: string, decision: 'approve' | 'decline', headers: Record<string, string> = {}): Promise<Response> {
  const page = await (await fetch(url)).text();
  const digest = /name="digest" value="([0-9a-f]+)"/.exec(page)![1]!;
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: `digest=${digest}&decision=${decision}`,
  });
}

describe('URL-mode elicitation with a loopback approval page (11.16)', () => {
  it("shows the exact plan with its price, and renting follows the human's approval on the page", async () => {
    const pages: string[] = [];
    const mcp = await env.connect({
      capabilities: URL_ONLY,
      onElicit: async (p: any) => {
        expect(p.mode).toBe('url');
        const html = await (await fetch(p.url)).text();
        pages.push(html);
        expect((await decide(p.url, 'approve')).status).toBe(200);
        return { action: 'accept' };
      },
    });
    const r = await mcp.call('create', ARGS);
    const c = r.structuredContent as any;
    expect(c.status).toBe('created');
    expect(c.approval_channel).toBe('url');
    expect(pages[0]).toMatch(/Rent 1 instance\(s\) for \$\d+\.\d{4}\/h/);
    expect(pages[0]).toMatch(/Total: \$\d+\.\d{4}\/h/);
    expect(live()).toHaveLength(1);
    expect((mcp.deps.audit.entries().find((e) => e.action === 'rent' && e.result === 'ok')!.detail as any).approved_via).toBe('url');
  });

  it('a decline on the page is final: nothing rented', async () => {
    const mcp = await env.connect({
      capabilities: URL_ONLY,
      onElicit: async (p: any) => {
        await decide(p.url, 'decline');
        return { action: 'accept' };
      },
    });
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('declined');
    expect(((await mcp.call('create', ARGS)).structuredContent as any).status).toBe('declined');
    expect(live()).toHaveLength(0);
  });

  it('while the human has not decided, the call answers pending; the same call after approval proceeds', async () => {
    let url = '';
    const mcp = await env.connect({
      capabilities: URL_ONLY,
      config: { approvalWaitMs: 30 },
      onElicit: (p: any) => {
        url = p.url;
        return { action: 'accept' };
      },
    });
    const first = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(first.status).toBe('needs_confirmation');
    expect(first.confirmation_token).toBeUndefined();
    expect(first.approval_url).toBe(url);
    expect(live()).toHaveLength(0);
    await decide(url, 'approve');
    const second = (await mcp.call('create', ARGS)).structuredContent as any;
    expect(second.status).toBe('created');
    expect(live()).toHaveLength(1);
  });

  it('is a human channel: allowed when the configuration requires one', async () => {
    const id = await rentOne(sim);
    const mcp = await env.connect({
      capabilities: URL_ONLY,
      config: { requireHumanApproval: true },
      onElicit: async (p: any) => {
        await decide(p.url, 'approve');
        return { action: 'accept' };
      },
    });
    const r = (await mcp.call('destroy', { instance_id: id, discard: true })).structuredContent as any;
    expect(r.status).toBe('destroyed');
  });
});

describe('the approval page itself', () => {
  it('refuses a wrong Host, a foreign Origin, a wrong digest and any reuse; escapes what it shows', async () => {
    const pages = new ApprovalPages();
    try {
      const { url } = await pages.open('d1'.repeat(8), 'Destroy <b>x</b>', 'file "<script>alert(1)</script>"', 60);
      const html = await (await fetch(url)).text();
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(html).not.toContain('<script>');
      const port = new URL(url).port;
      const rebinding = await fetch(url.replace('127.0.0.1', 'localhost'));
      expect(rebinding.status).toBe(421);
      expect((await decide(url, 'approve', { origin: 'http://evil.example' })).status).toBe(403);
      const wrong = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'digest=00&decision=approve',
      });
      expect(wrong.status).toBe(409);
      expect(pages.takeApproval('d1'.repeat(8))).toBe(false);
      expect((await decide(url, 'approve', { origin: `http://127.0.0.1:${port}` })).status).toBe(200);
      expect((await fetch(url)).status).toBe(410);
      expect(pages.takeApproval('d1'.repeat(8))).toBe(true);
      expect(pages.takeApproval('d1'.repeat(8))).toBe(false);
      expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    } finally {
      await pages.close();
    }
  });
});
