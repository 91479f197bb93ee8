/** Charges accrued by simulated instances, bucketed per instance, per kind and per UTC day. */
export type ChargeKind = 'gpu' | 'disk' | 'bwu' | 'bwd';

export interface ChargeBucket {
  instanceId: number;
  kind: ChargeKind;
  day: number;
  /** Hours for gpu, GB-hours for disk, GB for bandwidth. */
  quantity: number;
  amount: number;
  rate: number;
  firstAt: number;
  lastAt: number;
}

export interface Payment {
  id: number;
  when: number;
  amount: number;
  service: string;
  description: string;
}

const DAY = 86400;

export class BillingLedger {
  private readonly buckets = new Map<string, ChargeBucket>();
  readonly payments: Payment[] = [];

  charge(instanceId: number, kind: ChargeKind, at: number, quantity: number, rate: number): number {
    const amount = quantity * rate;
    if (amount <= 0) return 0;
    const day = Math.floor(at / DAY) * DAY;
    const key = `${instanceId}:${kind}:${day}`;
    const b = this.buckets.get(key);
    if (b) {
      b.quantity += quantity;
      b.amount += amount;
      b.rate = rate;
      b.lastAt = at;
    } else {
      this.buckets.set(key, { instanceId, kind, day, quantity, amount, rate, firstAt: at, lastAt: at });
    }
    return amount;
  }

  /** Charges whose day overlaps [from, to], oldest first. */
  chargesBetween(from: number, to: number): ChargeBucket[] {
    return [...this.buckets.values()]
      .filter((b) => b.lastAt >= from && b.firstAt <= to)
      .sort((a, b) => a.day - b.day || a.instanceId - b.instanceId || a.kind.localeCompare(b.kind));
  }

  addPayment(p: Omit<Payment, 'id'>): Payment {
    const payment = { id: 9000 + this.payments.length + 1, ...p };
    this.payments.push(payment);
    return payment;
  }
}
