/**
 * The platform limits each endpoint to one call per interval per identity (key + IP) and answers
 * 429 (with no Retry-After) when called faster (DOC vast-ai/docs
 * `api-reference/rate-limits-and-errors.mdx:26,47`). The intervals are the `x-rate-limit` values
 * of each OpenAPI file in `api-reference/openapi/yaml/`; offer search is a bucket of 10 calls per
 * minute (`search_offers.yaml:428-431`). Spacing our own calls keeps us under those limits instead
 * of relying on retries. Keyed per endpoint, not per endpoint+instance: the safer reading of a
 * question the docs leave open.
 */
export interface EndpointLimit {
  method: string;
  re: RegExp;
  /** Minimum interval between two calls. */
  ms: number;
  /** After a 429 the endpoint stays closed this long (create: `penalty: 12`, create_instance.yaml). */
  penaltyMs?: number;
  /** A bucket of `burst` calls per `burst × ms` window instead of a plain interval. */
  burst?: number;
}

export const ENDPOINT_LIMITS: EndpointLimit[] = [
  { method: 'GET', re: /^\/api\/v0\/instances\/\d+\/?$/, ms: 2000 }, // show_instance.yaml
  { method: 'PUT', re: /^\/api\/v0\/asks\/\d+\/?$/, ms: 4500, penaltyMs: 12_000 }, // create_instance.yaml
  { method: 'DELETE', re: /^\/api\/v0\/instances\/\d+\/?$/, ms: 3000 }, // destroy_instance.yaml
  { method: 'GET', re: /^\/api\/v1\/instances\/?$/, ms: 1000 }, // show_instances.yaml (v1)
  { method: 'PUT', re: /^\/api\/v0\/instances\/\d+\/?$/, ms: 1000 }, // manage_instance.yaml (state, label)
  { method: 'PUT', re: /^\/api\/v0\/instances\/reboot\/\d+\/?$/, ms: 1000 }, // reboot_instance.yaml
  { method: 'PUT', re: /^\/api\/v0\/instances\/recycle\/\d+\/?$/, ms: 1000 }, // recycle_instance.yaml
  { method: 'PUT', re: /^\/api\/v0\/instances\/bid_price\/\d+\/?$/, ms: 5500 }, // change_bid.yaml
  { method: 'GET', re: /^\/api\/v0\/charges\/?$/, ms: 1000 }, // show_charges.yaml
  { method: 'GET', re: /^\/api\/v1\/invoices\/?$/, ms: 3000 }, // show_invoices.yaml (v1)
  { method: 'POST', re: /^\/api\/v0\/ssh\/?$/, ms: 1000 }, // create_ssh_key.yaml
  { method: 'DELETE', re: /^\/api\/v0\/instances\/\d+\/ssh\/\d+\/?$/, ms: 2000 }, // detach_ssh.yaml
  { method: 'GET', re: /^\/api\/v0\/users\/cloud_integrations\/?$/, ms: 2900 }, // show_connections.yaml
  { method: 'POST', re: /^\/api\/v0\/bundles\/?$/, ms: 6000, burst: 10 }, // search_offers.yaml: 10 per minute
];

/** @deprecated name kept for existing imports; same table. */
export const ENDPOINT_INTERVALS_MS = ENDPOINT_LIMITS;

export function limitFor(method: string, path: string, rules: EndpointLimit[] = ENDPOINT_LIMITS): EndpointLimit | undefined {
  const p = path.split('?')[0] ?? path;
  return rules.find((r) => r.method === method && r.re.test(p));
}

/** How long to wait before retrying after a 429 on this endpoint (the penalty when it has one). */
export function retryDelayAfter429(method: string, path: string): number {
  const rule = limitFor(method, path);
  if (!rule) return 1000;
  return (rule.penaltyMs ?? rule.ms) + MARGIN_MS;
}

/** Slack for network and event-loop delays between our send and the platform's clock. */
const MARGIN_MS = 250;

/**
 * Retry-After as seconds or an HTTP date, in ms from `nowMs`; null when absent or unreadable. The
 * docs say Vast sends none (rate-limits-and-errors.mdx:47); a proxy or a future API may.
 */
export function retryAfterMs(header: string | string[] | undefined, nowMs = Date.now()): number | null {
  const text = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!text) return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}

/**
 * The wait before 429 retry `n` (0-based) when the answer says nothing. A bucket (search: 10 per
 * minute, sliding) frees a slot whenever its oldest call ages out, so the first retry comes soon
 * and later ones back off (jittered, 0.5–1 s, 1–2 s, … up to half the window). An interval endpoint
 * opens again after its interval, or its penalty (create), so it waits that long.
 */
export function delayAfter429(method: string, path: string, n: number, random: () => number = Math.random): number {
  const rule = limitFor(method, path);
  if (rule?.burst) {
    const cap = Math.min((rule.burst * rule.ms) / 2, 1000 * 2 ** Math.min(n, 10));
    return Math.round(cap / 2 + random() * (cap / 2));
  }
  const base = rule ? (rule.penaltyMs ?? rule.ms) + MARGIN_MS : 1000;
  return Math.round(base * (1 + random() * 0.25));
}

/**
 * How long 429 retries may go on in all: a bucket's whole window (by then every slot refilled,
 * unless another client on the key keeps taking them), else four of the endpoint's waits.
 */
export function rateLimitDeadlineMs(method: string, path: string): number {
  const rule = limitFor(method, path);
  if (rule?.burst) return rule.burst * rule.ms + 5000;
  return 4 * (rule ? (rule.penaltyMs ?? rule.ms) + MARGIN_MS : 1000) * 1.25;
}

export class Pacer {
  private readonly next = new Map<string, number>();
  /** For bucket endpoints: the times of the calls inside the current window. */
  private readonly windows = new Map<string, number[]>();

  constructor(
    private readonly rules = ENDPOINT_LIMITS,
    private readonly now: () => number = () => Date.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Waits until `method path` may be called again, and books the slot. */
  async wait(method: string, path: string): Promise<void> {
    const rule = limitFor(method, path, this.rules);
    if (!rule) return;
    const key = `${method} ${rule.re.source}`;
    const now = this.now();
    let at = Math.max(now, this.next.get(key) ?? 0);
    if (rule.burst) {
      const windowMs = rule.burst * rule.ms;
      const booked = this.windows.get(key) ?? [];
      // Bookings stay in order, so concurrent callers queue behind each other here too.
      at = Math.max(at, booked[booked.length - 1] ?? 0);
      const calls = booked.filter((t) => t > at - windowMs - MARGIN_MS);
      if (calls.length >= rule.burst) at = Math.max(at, calls[calls.length - rule.burst]! + windowMs + MARGIN_MS);
      calls.push(at);
      this.windows.set(key, calls);
    } else {
      // Book the slot before sleeping, so concurrent callers queue behind each other.
      this.next.set(key, at + rule.ms + MARGIN_MS);
    }
    if (at > now) await this.sleep(at - now);
  }

  /** A 429 arrived anyway (another client on the key): close the endpoint for `ms`, else its penalty or interval. */
  penalize(method: string, path: string, ms?: number): void {
    const rule = limitFor(method, path, this.rules);
    if (!rule) return;
    const key = `${method} ${rule.re.source}`;
    const until = this.now() + (ms ?? (rule.penaltyMs ?? rule.ms) + MARGIN_MS);
    this.next.set(key, Math.max(this.next.get(key) ?? 0, until));
  }
}
