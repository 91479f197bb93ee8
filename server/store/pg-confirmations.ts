import type { ConfirmationBackend, ConfirmationKind, PendingConfirmation } from '../safety/confirmations.js';
import type { PgJobStore } from './pg-store.js';

/** Confirmation tokens (by hash) and declined plans in the shared PostgreSQL store, for replicas. */
export class PgConfirmations implements ConfirmationBackend {
  constructor(private readonly store: PgJobStore) {}

  async put(h: string, p: PendingConfirmation): Promise<void> {
    await this.store.exec('INSERT INTO confirmations (token_hash, kind, binding, expires_at, payload) VALUES ($1, $2, $3, $4, $5)', [
      h,
      p.kind,
      p.binding,
      p.expiresAt,
      JSON.stringify(p.payload ?? null),
    ]);
  }

  /**
   * One UPDATE … RETURNING: of two replicas claiming one token at once, exactly one gets it; a claim whose
   * lease ran out (its replica died mid-call) may be taken over.
   */
  async claim(h: string, claimId: string, now: number, leaseSeconds: number): Promise<PendingConfirmation | { heldSince: number } | null> {
    const [r] = await this.store.exec(
      `UPDATE confirmations SET claimed_by = $2, claimed_at = $3::double precision
       WHERE token_hash = $1 AND (claimed_by IS NULL OR claimed_at <= $3::double precision - $4::double precision)
       RETURNING kind, binding, expires_at, payload`,
      [h, claimId, now, leaseSeconds],
    );
    if (!r) {
      const [held] = await this.store.exec('SELECT claimed_at FROM confirmations WHERE token_hash = $1', [h]);
      return held ? { heldSince: Number(held.claimed_at) } : null;
    }
    return {
      kind: r.kind as ConfirmationKind,
      binding: r.binding as string,
      expiresAt: r.expires_at as number,
      payload: JSON.parse(r.payload as string),
    };
  }

  /** DELETE … RETURNING, only for the claim that still holds the token. */
  async commit(h: string, claimId: string): Promise<boolean> {
    return (await this.store.exec('DELETE FROM confirmations WHERE token_hash = $1 AND claimed_by = $2 RETURNING 1', [h, claimId])).length > 0;
  }

  async sweep(now: number): Promise<void> {
    await this.store.exec('DELETE FROM confirmations WHERE expires_at < $1', [now]);
  }

  async decline(plan: string, now: number): Promise<void> {
    await this.store.exec('INSERT INTO declined_plans (plan, at) VALUES ($1, $2) ON CONFLICT (plan) DO NOTHING', [plan, now]);
  }

  async isDeclined(plan: string): Promise<boolean> {
    return (await this.store.exec('SELECT 1 FROM declined_plans WHERE plan = $1', [plan])).length > 0;
  }
}
