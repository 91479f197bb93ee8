import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import { appendJsonLine, readJsonLines } from '../state/jsonl-file.js';

/**
 * Budget reservations: an approved rental reserves its projected cost before it is rented, so two
 * creates (in one process, two, or two replicas) cannot each pass the budget check against the same
 * "spent so far". Two kinds, one interface: a JSONL file shared by every process on one state directory
 * (check-and-reserve under an exclusive lock file), and a table in the shared store for replicas
 * (server/store/pg-reservations.ts, check-and-reserve in one transaction under an advisory lock).
 */
export type ReservationRecord =
  | { type: 'reserve'; id: string; amount: number; scopes: string[]; until: number; at: number; per_hour?: number }
  | { type: 'bind'; id: string; instance_ids: number[]; baseline?: number }
  | { type: 'release'; id: string };

export interface Outstanding {
  id: string;
  amount: number;
  /** USD/hour the reserved rental will burn (counted against the burn cap until its instances are listed). */
  per_hour: number;
  scopes: string[];
  instance_ids: number[];
}

export interface Reservations {
  /** Reservations still counting against the budget at `now`, minus what their instances already charged. */
  outstanding(now: number, chargedByInstance: Map<number, number>): Promise<Outstanding[]>;
  /**
   * Atomically: `check(outstanding)` (throws to refuse) and then record the reservation. Returns its id.
   * `until` is when the projection ends (epoch seconds).
   */
  reserve(
    amount: number,
    scopes: string[],
    now: number,
    until: number,
    chargedByInstance: Map<number, number>,
    check: (outstanding: Outstanding[]) => void,
    perHour?: number,
  ): Promise<string>;
  bind(id: string, instanceIds: number[], baseline?: number): Promise<void>;
  release(id: string): Promise<void>;
}

export const newReservationId = (): string => `r-${randomBytes(6).toString('hex')}`;

/** The reservations the records (in the order written) leave counting at `now`. */
export function outstandingOf(recs: ReservationRecord[], now: number, chargedByInstance: Map<number, number>): Outstanding[] {
  const byId = new Map<string, Outstanding & { until: number; baseline: number }>();
  const released = new Set<string>();
  for (const r of recs) {
    if (r.type === 'reserve')
      byId.set(r.id, { id: r.id, amount: r.amount, per_hour: r.per_hour ?? 0, scopes: r.scopes, instance_ids: [], until: r.until, baseline: 0 });
    else if (r.type === 'bind') {
      const res = byId.get(r.id);
      if (res) {
        res.instance_ids.push(...r.instance_ids);
        res.baseline += r.baseline ?? 0;
      }
    } else if (r.type === 'release') released.add(r.id);
  }
  const out: Outstanding[] = [];
  for (const r of byId.values()) {
    if (released.has(r.id) || now > r.until) continue;
    const charged = r.instance_ids.reduce((s, id) => s + (chargedByInstance.get(id) ?? 0), 0);
    // Charges the instances had before the reservation (a start or bid of an existing instance) do not pay it off.
    const left = r.amount - (charged - r.baseline);
    if (left > 1e-9 || r.instance_ids.length === 0)
      out.push({ id: r.id, amount: Math.max(0, left), per_hour: r.per_hour, scopes: r.scopes, instance_ids: r.instance_ids });
  }
  return out;
}

/**
 * The critical section is a read and one append (milliseconds): a lock this old was left by a dead process
 * of another host (one of this host is recognised at once). Well above any realistic stall of a live holder,
 * and below the time a waiter gives it.
 */
const LOCK_STALE_MS = 15_000;
const LOCK_WAIT_MS = 20_000;

/** Whether the lock's text names a process of this host that no longer runs (a server killed mid-reservation). */
function holderIsDead(text: string): boolean {
  const [host, pid] = text.split(' ');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the lock only if it is still the one judged stale (its text is unique to its holder): it is moved
 * aside first, atomically, so a fresh lock taken meanwhile by another waiter is put back, not deleted.
 */
function breakStale(lock: string, seen: string, nonce: string): void {
  const aside = `${lock}.${nonce}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // gone meanwhile
  }
  if (readFileSync(aside, 'utf8') !== seen) {
    try {
      linkSync(aside, lock);
    } catch {
      /* a newer lock exists already */
    }
  }
  unlinkSync(aside);
}

function withLock<T>(dir: string, fn: () => T): T {
  const lock = join(dir, 'reservations.lock');
  const nonce = randomBytes(8).toString('hex');
  const mine = `${hostname()} ${process.pid} ${nonce}`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        const seen = readFileSync(lock, 'utf8');
        // Another host's holder (a shared volume) is judged by age alone.
        if (holderIsDead(seen) || Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) breakStale(lock, seen, nonce);
      } catch {
        /* removed meanwhile */
      }
      if (Date.now() > deadline)
        throw new VastMcpError(
          `Refused: the budget reservation lock is held by another server process for over ${LOCK_WAIT_MS / 1000} s. Nothing was rented; try again.`,
          'reservation_busy',
        );
      // A short synchronous pause: the critical section is a read and one append, held for milliseconds.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    return fn();
  } finally {
    // Only our own lock: had ours been broken as stale, the lock there now is someone else's.
    try {
      if (readFileSync(lock, 'utf8') === mine) unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
}

/** The reservations of one state directory (no shared store): append-only JSONL under a lock file. */
export class BudgetReservations implements Reservations {
  readonly path: string;

  constructor(private readonly stateDir: string) {
    this.path = join(stateDir, 'reservations.jsonl');
  }

  private current(now: number, chargedByInstance: Map<number, number>): Outstanding[] {
    return outstandingOf(readJsonLines<ReservationRecord>(this.path), now, chargedByInstance);
  }

  async outstanding(now: number, chargedByInstance: Map<number, number>): Promise<Outstanding[]> {
    return this.current(now, chargedByInstance);
  }

  async reserve(
    amount: number,
    scopes: string[],
    now: number,
    until: number,
    chargedByInstance: Map<number, number>,
    check: (outstanding: Outstanding[]) => void,
    perHour = 0,
  ): Promise<string> {
    // Synchronous inside the lock: no other call of this process interleaves between the check and the append.
    return withLock(this.stateDir, () => {
      check(this.current(now, chargedByInstance));
      const id = newReservationId();
      appendJsonLine(this.path, { type: 'reserve', id, amount, scopes, until, at: now, per_hour: perHour } satisfies ReservationRecord);
      return id;
    });
  }

  async bind(id: string, instanceIds: number[], baseline = 0): Promise<void> {
    appendJsonLine(this.path, { type: 'bind', id, instance_ids: instanceIds, baseline } satisfies ReservationRecord);
  }

  async release(id: string): Promise<void> {
    appendJsonLine(this.path, { type: 'release', id } satisfies ReservationRecord);
  }
}
