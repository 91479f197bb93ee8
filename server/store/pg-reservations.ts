import { newReservationId, type Outstanding, outstandingOf, type ReservationRecord, type Reservations } from '../profiles/reservations.js';
import type { PgJobStore, StoreQuery } from './pg-store.js';

/** Serializes check-and-reserve across replicas (init's schema lock is 715517). */
const RESERVE_LOCK = 715518;

/**
 * The budget reservations of every replica, in the shared store: the same records as the state directory's
 * file, one a row. A reserve is one transaction under a transaction-scoped advisory lock, so the check of one
 * replica always sees the reservation another has just made (the second waits for the first to commit).
 */
export class PgReservations implements Reservations {
  constructor(private readonly store: PgJobStore) {}

  private async records(q: StoreQuery, now: number): Promise<ReservationRecord[]> {
    // Only reservations whose window has not ended can count; their binds and releases come with them.
    const rows = await q(
      `SELECT record FROM budget_reservations WHERE id IN
         (SELECT id FROM budget_reservations WHERE type = 'reserve' AND until_at >= $1) ORDER BY seq`,
      [now],
    );
    return rows.map((r) => JSON.parse(r.record as string) as ReservationRecord);
  }

  private async append(q: StoreQuery, r: ReservationRecord): Promise<void> {
    await q('INSERT INTO budget_reservations (id, type, until_at, record) VALUES ($1, $2, $3, $4)', [
      r.id,
      r.type,
      r.type === 'reserve' ? r.until : null,
      JSON.stringify(r),
    ]);
  }

  async outstanding(now: number, chargedByInstance: Map<number, number>): Promise<Outstanding[]> {
    return outstandingOf(await this.store.transaction((q) => this.records(q, now)), now, chargedByInstance);
  }

  reserve(
    amount: number,
    scopes: string[],
    now: number,
    until: number,
    chargedByInstance: Map<number, number>,
    check: (outstanding: Outstanding[]) => void,
    perHour = 0,
  ): Promise<string> {
    return this.store.transaction(async (q) => {
      await q('SELECT pg_advisory_xact_lock($1)', [RESERVE_LOCK]);
      check(outstandingOf(await this.records(q, now), now, chargedByInstance));
      const id = newReservationId();
      await this.append(q, { type: 'reserve', id, amount, scopes, until, at: now, per_hour: perHour });
      return id;
    });
  }

  async bind(id: string, instanceIds: number[], baseline = 0): Promise<void> {
    await this.store.transaction((q) => this.append(q, { type: 'bind', id, instance_ids: instanceIds, baseline }));
  }

  async release(id: string): Promise<void> {
    await this.store.transaction((q) => this.append(q, { type: 'release', id }));
  }
}
