/** Which failures are worth repeating, and how long to wait: exponential backoff with full jitter. */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 8000 };

export const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
export const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/**
 * A failure is retried only when the request is safe to repeat. For a request that is not
 * (create), a lost answer must be reconciled by the caller instead.
 */
export function shouldRetry(opts: { idempotent: boolean; status?: number; networkCode?: string; attempt: number; policy: RetryPolicy }): boolean {
  if (!opts.idempotent) return false;
  if (opts.attempt + 1 >= opts.policy.attempts) return false;
  if (opts.status !== undefined) return RETRYABLE_STATUS.has(opts.status);
  if (opts.networkCode !== undefined) return RETRYABLE_NETWORK_CODES.has(opts.networkCode) || opts.networkCode.startsWith('UND_ERR_');
  return false;
}

/** Delay before retry number `attempt` (0-based): random in [0, min(max, base × 2^attempt)]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  // Keep a floor so a 429 is not hammered again immediately (Vast sends no Retry-After).
  return Math.round(cap / 2 + random() * (cap / 2));
}
