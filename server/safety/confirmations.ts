import { createHash, randomBytes } from 'node:crypto';

export type ConfirmationKind = 'create' | 'start' | 'bid' | 'destroy' | 'job_submit';

export interface PendingConfirmation {
  kind: ConfirmationKind;
  binding: string;
  expiresAt: number;
  /** What was shown to the user (e.g. the quoted offers), handed back at use time. */
  payload: unknown;
}

/**
 * Where tokens and declined plans live: this process (stdio, one chat) or the shared store (replicas).
 * Tokens are kept by their sha256 only. A token is used in two steps so that a server that dies between
 * them loses no confirmation and rents nothing twice: `claim` hands it to one call for a lease (another
 * call gets it only once the lease ran out), and `commit` removes it, atomically and only for the call
 * still holding the claim, right before the platform request.
 */
export interface ConfirmationBackend {
  put(tokenHash: string, p: PendingConfirmation): Promise<void>;
  /** The pending confirmation, now claimed by `claimId`; else why not (never issued or used up; claimed by a live call). */
  claim(tokenHash: string, claimId: string, now: number, leaseSeconds: number): Promise<PendingConfirmation | { heldSince: number } | null>;
  /** Removes the token if `claimId` still holds it; false when another call took it over. */
  commit(tokenHash: string, claimId: string): Promise<boolean>;
  sweep(now: number): Promise<void>;
  decline(plan: string, now: number): Promise<void>;
  isDeclined(plan: string): Promise<boolean>;
}

export class MemoryConfirmations implements ConfirmationBackend {
  private readonly pending = new Map<string, PendingConfirmation & { claim?: { id: string; at: number } }>();
  private readonly declined = new Set<string>();
  async put(h: string, p: PendingConfirmation): Promise<void> {
    this.pending.set(h, p);
  }
  async claim(h: string, claimId: string, now: number, leaseSeconds: number): Promise<PendingConfirmation | { heldSince: number } | null> {
    const p = this.pending.get(h);
    if (!p) return null;
    if (p.claim && now - p.claim.at < leaseSeconds) return { heldSince: p.claim.at };
    p.claim = { id: claimId, at: now };
    return { kind: p.kind, binding: p.binding, expiresAt: p.expiresAt, payload: p.payload };
  }
  async commit(h: string, claimId: string): Promise<boolean> {
    if (this.pending.get(h)?.claim?.id !== claimId) return false;
    this.pending.delete(h);
    return true;
  }
  async sweep(now: number): Promise<void> {
    for (const [t, p] of this.pending) if (now > p.expiresAt) this.pending.delete(t);
  }
  async decline(plan: string): Promise<void> {
    this.declined.add(plan);
  }
  async isDeclined(plan: string): Promise<boolean> {
    return this.declined.has(plan);
  }
}

/**
 * How long a call holds a claimed token before another may claim it: longer than any call spends between
 * redeeming a token and sending the platform request (a price re-check and the budget reservation).
 */
export const CLAIM_LEASE_SECONDS = 60;

export type ConsumeResult =
  | { ok: true; payload: unknown }
  | { ok: false; reason: 'unknown' | 'expired' | 'mismatch' | 'wrong_kind' }
  | { ok: false; reason: 'in_use'; retryInSeconds: number };
export type ClaimResult = Exclude<ConsumeResult, { ok: true }> | { ok: true; payload: unknown; commit: () => Promise<boolean> };

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

const tokenHash = (token: string) => createHash('sha256').update(`vast-mcp-confirmation:${token}`).digest('hex');

/**
 * Single-use, expiring tokens bound to the exact arguments and quoted price of a costly or
 * destructive action. The server re-derives the binding at use time; anything different is refused.
 * Kept in this process by default; with a shared backend (PostgreSQL) a token issued by one replica is
 * honoured, and used up, on any of them.
 */
export class ConfirmationStore {
  constructor(
    private readonly ttlSeconds = 600,
    private readonly now: () => number = () => Date.now() / 1000,
    private readonly backend: ConfirmationBackend = new MemoryConfirmations(),
    private readonly leaseSeconds = CLAIM_LEASE_SECONDS,
  ) {}

  async issue(kind: ConfirmationKind, bound: unknown, payload: unknown = null): Promise<{ token: string; expiresAt: number }> {
    await this.backend.sweep(this.now());
    const token = `${kind}-${randomBytes(12).toString('base64url')}`;
    const expiresAt = this.now() + this.ttlSeconds;
    await this.backend.put(tokenHash(token), { kind, binding: bindingOf(bound), expiresAt, payload });
    return { token, expiresAt };
  }

  /** Uses the token up whatever the outcome: a refused token cannot be tried again. */
  async consume(token: string, kind: ConfirmationKind, bound: unknown): Promise<ConsumeResult> {
    const c = await this.claim(token, kind, bound);
    if (!c.ok) return c;
    if (!(await c.commit())) return { ok: false, reason: 'unknown' };
    return { ok: true, payload: c.payload };
  }

  /**
   * Claims the token for this call; `commit()` uses it up right before the action (false: the lease ran
   * out and another call took it, so this one must do nothing). A refused token is used up at once.
   */
  async claim(token: string, kind: ConfirmationKind, bound: unknown): Promise<ClaimResult> {
    const h = tokenHash(token);
    const claimId = randomBytes(9).toString('base64url');
    const now = this.now();
    const p = await this.backend.claim(h, claimId, now, this.leaseSeconds);
    if (!p) return { ok: false, reason: 'unknown' };
    if ('heldSince' in p) return { ok: false, reason: 'in_use', retryInSeconds: Math.max(1, Math.ceil(p.heldSince + this.leaseSeconds - now)) };
    const refuse = async (reason: 'expired' | 'mismatch' | 'wrong_kind'): Promise<ClaimResult> => {
      await this.backend.commit(h, claimId);
      return { ok: false, reason };
    };
    if (p.kind !== kind) return refuse('wrong_kind');
    if (now > p.expiresAt) return refuse('expired');
    if (p.binding !== bindingOf(bound)) return refuse('mismatch');
    return { ok: true, payload: p.payload, commit: () => this.backend.commit(h, claimId) };
  }

  /** A "no" is final for that exact plan, whatever channel (or replica) asks next. */
  async markDeclined(kind: ConfirmationKind, bound: unknown): Promise<void> {
    await this.backend.decline(`${kind}:${bindingOf(bound)}`, this.now());
  }

  async isDeclined(kind: ConfirmationKind, bound: unknown): Promise<boolean> {
    return this.backend.isDeclined(`${kind}:${bindingOf(bound)}`);
  }
}

export function explainRefusal(r: Exclude<ConsumeResult, { ok: true }>): string {
  switch (r.reason) {
    case 'in_use':
      return `The confirmation token is being used by another call that has not finished (a server may have stopped mid-call). If that call got no answer, call status first: anything it rented is listed there; if nothing was, this token can be used again in ${r.retryInSeconds} s.`;
    case 'unknown':
      // A call that used it may have died with its server (a killed replica, a lost connection) after renting.
      return 'The confirmation token is unknown or was already used (tokens are single-use). If an earlier call with it got no answer, call status first: anything it rented is listed there.';
    case 'expired':
      return 'The confirmation token expired.';
    case 'wrong_kind':
      return 'The confirmation token was issued for a different action.';
    case 'mismatch':
      return 'The arguments or the quoted price changed since the token was issued, so the user has not approved this exact request.';
  }
}
