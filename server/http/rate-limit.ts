/**
 * A token bucket per key (user, or client address for refused logins). Process-local: with several
 * replicas each enforces its own share, which bounds a user at replicas × limit.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when allowed (a token is spent), else the seconds to wait before the next token. */
  take(key: string): number {
    const now = this.nowMs();
    const rate = this.perMinute / 60_000;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.prune(now, rate);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
  }

  /** True when the key has no token left (nothing is spent). */
  exhausted(key: string): boolean {
    const b = this.buckets.get(key);
    if (!b) return false;
    return b.tokens + (this.nowMs() - b.at) * (this.perMinute / 60_000) < 1;
  }

  private prune(now: number, rate: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * rate >= this.burst) this.buckets.delete(k);
    // Still full of active keys: forget the oldest (a forgotten key starts with a full bucket again).
    while (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
  }
}
