/**
 * The platform's documented rate limits: a minimum interval per endpoint and identity (DOC
 * `api-reference/rate-limits-and-errors.mdx:26`), the thresholds from each OpenAPI file's
 * `x-rate-limit`, offer search as 10 per minute (`search_offers.yaml:428-431`), create with
 * `penalty: 12` (`create_instance.yaml`): after a refused create the endpoint stays closed 12 s.
 * 429 bodies: plain "API requests too frequent" or JSON `{"detail": "... endpoint threshold=X"}`
 * (rate-limits-and-errors.mdx); no Retry-After (:47). Paths are without their trailing slash.
 */
interface Limit {
  method: string;
  re: RegExp;
  seconds: number;
  penaltySeconds?: number;
  /** Bucket size: `burst` calls per `burst × seconds`. */
  burst?: number;
  /** Answer with the JSON `detail` body (some endpoints do, some answer plain text). */
  jsonBody?: boolean;
}

const LIMITS: Limit[] = [
  { method: 'GET', re: /^\/api\/v0\/instances\/\d+$/, seconds: 2.0 },
  { method: 'PUT', re: /^\/api\/v0\/asks\/\d+$/, seconds: 4.5, penaltySeconds: 12 },
  { method: 'DELETE', re: /^\/api\/v0\/instances\/\d+$/, seconds: 3.0 },
  { method: 'GET', re: /^\/api\/v1\/instances$/, seconds: 1.0, jsonBody: true },
  { method: 'PUT', re: /^\/api\/v0\/instances\/\d+$/, seconds: 1.0 },
  { method: 'PUT', re: /^\/api\/v0\/instances\/reboot\/\d+$/, seconds: 1.0 },
  { method: 'PUT', re: /^\/api\/v0\/instances\/recycle\/\d+$/, seconds: 1.0 },
  { method: 'PUT', re: /^\/api\/v0\/instances\/bid_price\/\d+$/, seconds: 5.5 },
  { method: 'GET', re: /^\/api\/v0\/charges$/, seconds: 1.0, jsonBody: true },
  { method: 'GET', re: /^\/api\/v1\/invoices$/, seconds: 3.0, jsonBody: true },
  { method: 'POST', re: /^\/api\/v0\/ssh$/, seconds: 1.0 },
  { method: 'DELETE', re: /^\/api\/v0\/instances\/\d+\/ssh\/\d+$/, seconds: 2.0 },
  { method: 'GET', re: /^\/api\/v0\/users\/cloud_integrations$/, seconds: 2.9 },
  { method: 'POST', re: /^\/api\/v0\/bundles$/, seconds: 6.0, burst: 10, jsonBody: true },
];

export interface RateDecision {
  status: 429;
  contentType: string;
  body: string;
}

/** Per key and endpoint, real (wall-clock) time: the platform limits requests, not simulated hours. */
export class RateLimiter {
  private readonly closedUntil = new Map<string, number>();
  private readonly calls = new Map<string, number[]>();
  hits = 0;

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** null = allowed (and counted); otherwise the 429 to send. */
  check(method: string, path: string, key: string | null): RateDecision | null {
    const limit = LIMITS.find((l) => l.method === method && l.re.test(path));
    if (!limit) return null;
    const id = `${key ?? '-'} ${method} ${limit.re.source}`;
    const t = this.now();
    const windowMs = limit.seconds * 1000 * (limit.burst ?? 1);
    const recent = (this.calls.get(id) ?? []).filter((c) => c > t - windowMs);
    const refused = t < (this.closedUntil.get(id) ?? 0) || recent.length >= (limit.burst ?? 1);
    if (refused) {
      this.hits++;
      if (limit.penaltySeconds) this.closedUntil.set(id, t + limit.penaltySeconds * 1000);
      this.calls.set(id, recent);
      return limit.jsonBody
        ? {
            status: 429,
            contentType: 'application/json',
            body: JSON.stringify({ detail: `API requests too frequent endpoint threshold=${limit.seconds}` }),
          }
        : { status: 429, contentType: 'text/plain', body: 'API requests too frequent' };
    }
    recent.push(t);
    this.calls.set(id, recent);
    return null;
  }
}
