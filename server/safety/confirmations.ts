import { createHash, randomBytes } from 'node:crypto';

export type ConfirmationKind = 'create' | 'start' | 'bid' | 'destroy' | 'job_submit';

interface Pending {
  kind: ConfirmationKind;
  binding: string;
  expiresAt: number;
  /** What was shown to the user (e.g. the quoted offers), handed back at use time. */
  payload: unknown;
}

export type ConsumeResult = { ok: true; payload: unknown } | { ok: false; reason: 'unknown' | 'expired' | 'mismatch' | 'wrong_kind' };

/** Canonical JSON (sorted keys) so the same arguments always bind to the same digest. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function bindingOf(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex');
}

/**
 * Single-use, expiring tokens bound to the exact arguments and quoted price of a costly or
 * destructive action. The server re-derives the binding at use time; anything different is refused.
 */
export class ConfirmationStore {
  private readonly pending = new Map<string, Pending>();
  /** Plans the user declined: a "no" is final for that exact plan, whatever channel asks next. */
  private readonly declined = new Set<string>();

  constructor(
    private readonly ttlSeconds = 600,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  issue(kind: ConfirmationKind, bound: unknown, payload: unknown = null): { token: string; expiresAt: number } {
    this.sweep();
    const token = `${kind}-${randomBytes(12).toString('base64url')}`;
    const expiresAt = this.now() + this.ttlSeconds;
    this.pending.set(token, { kind, binding: bindingOf(bound), expiresAt, payload });
    return { token, expiresAt };
  }

  /** Uses the token up whatever the outcome: a refused token cannot be tried again. */
  consume(token: string, kind: ConfirmationKind, bound: unknown): ConsumeResult {
    const p = this.pending.get(token);
    if (!p) return { ok: false, reason: 'unknown' };
    this.pending.delete(token);
    if (p.kind !== kind) return { ok: false, reason: 'wrong_kind' };
    if (this.now() > p.expiresAt) return { ok: false, reason: 'expired' };
    if (p.binding !== bindingOf(bound)) return { ok: false, reason: 'mismatch' };
    return { ok: true, payload: p.payload };
  }

  markDeclined(kind: ConfirmationKind, bound: unknown): void {
    this.declined.add(`${kind}:${bindingOf(bound)}`);
  }

  isDeclined(kind: ConfirmationKind, bound: unknown): boolean {
    return this.declined.has(`${kind}:${bindingOf(bound)}`);
  }

  private sweep(): void {
    const now = this.now();
    for (const [t, p] of this.pending) if (now > p.expiresAt) this.pending.delete(t);
  }
}

export function explainRefusal(reason: Exclude<ConsumeResult, { ok: true }>['reason']): string {
  switch (reason) {
    case 'unknown':
      return 'The confirmation token is unknown or was already used (tokens are single-use).';
    case 'expired':
      return 'The confirmation token expired.';
    case 'wrong_kind':
      return 'The confirmation token was issued for a different action.';
    case 'mismatch':
      return 'The arguments or the quoted price changed since the token was issued, so the user has not approved this exact request.';
  }
}
