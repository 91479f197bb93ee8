/**
 * The platform limits each endpoint to one call per interval per key and answers 429 (with no
 * Retry-After) when called faster. Spacing our own calls keeps us under those limits instead of
 * relying on retries.
 */
export const ENDPOINT_INTERVALS_MS: { method: string; re: RegExp; ms: number }[] = [
  { method: 'GET', re: /^\/api\/v0\/instances\/\d+\/?$/, ms: 2000 },
  { method: 'PUT', re: /^\/api\/v0\/asks\/\d+\/?$/, ms: 4500 },
  { method: 'GET', re: /^\/api\/v1\/instances\/?$/, ms: 1000 },
  { method: 'DELETE', re: /^\/api\/v0\/instances\/\d+\/?$/, ms: 3000 },
];

/** Slack for network and event-loop delays between our send and the platform's clock. */
const MARGIN_MS = 250;

export class Pacer {
  private readonly next = new Map<string, number>();

  constructor(
    private readonly rules = ENDPOINT_INTERVALS_MS,
    private readonly now: () => number = () => Date.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Waits until `method path` may be called again, and books the slot. */
  async wait(method: string, path: string): Promise<void> {
    const rule = this.rules.find((r) => r.method === method && r.re.test(path));
    if (!rule) return;
    const key = `${method} ${rule.re.source}`;
    const now = this.now();
    const at = Math.max(now, this.next.get(key) ?? 0);
    // Book the slot before sleeping, so concurrent callers queue behind each other.
    this.next.set(key, at + rule.ms + MARGIN_MS);
    if (at > now) await this.sleep(at - now);
  }
}
