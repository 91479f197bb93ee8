import type { SimInstance } from './types.js';
import type { SimWorld } from './world.js';

/** How often a saved card is charged while the balance is negative (the docs say "periodically"). */
export const CARD_CHARGE_SECONDS = 6 * 3600;

/** Charges GPU time while running and disk in every state, from lastAccrual to `t`. */
export function accrue(world: SimWorld, inst: SimInstance, t: number): void {
  const from = inst.lastAccrual;
  if (t <= from) return;
  const hours = (t - from) / 3600;
  inst.lastAccrual = t;
  // "frozen": GPU charges apply (DOC cli/reference/show-instance.mdx).
  if (inst.actual === 'running' || inst.actual === 'frozen') {
    const amount = world.ledger.charge(inst.id, 'gpu', t, hours, inst.gpuRate);
    inst.costs.gpu += amount;
    world.account.credit -= amount;
  }
  const disk = world.ledger.charge(inst.id, 'disk', t, hours * inst.diskGb, inst.diskRate / inst.diskGb);
  inst.costs.disk += disk;
  world.account.credit -= disk;
}

export function chargeBandwidth(world: SimWorld, inst: SimInstance, bytesUp: number, bytesDown: number): void {
  const now = world.now();
  const m = inst.ask.machine;
  inst.bytesUp += bytesUp;
  inst.bytesDown += bytesDown;
  const up = world.ledger.charge(inst.id, 'bwu', now, bytesUp / 1e9, m.inetUpCost);
  const down = world.ledger.charge(inst.id, 'bwd', now, bytesDown / 1e9, m.inetDownCost);
  inst.costs.bwu += up;
  inst.costs.bwd += down;
  world.account.credit -= up + down;
}

/**
 * At $0 everything stops (DOC guides/reference/billing.mdx, Negative Balances). With a card on
 * file the card is charged for the negative balance (here: every 6 simulated hours) and nothing is
 * deleted; without one the stopped instances are destroyed after the grace.
 */
export function enforceBalance(world: SimWorld, now: number): void {
  const a = world.account;
  if (a.credit > 0) {
    a.deletionScheduledAt = null;
    a.nextCardChargeAt = null;
    return;
  }
  const live = world.liveInstances();
  if (live.length === 0) return;
  if (a.cardOnFile) {
    for (const inst of live) if (inst.intended !== 'stopped') world.stop(inst, 'Insufficient balance: stopped; the card on file will be charged');
    a.nextCardChargeAt ??= now + CARD_CHARGE_SECONDS;
    if (now >= a.nextCardChargeAt && a.credit < 0) {
      world.ledger.addPayment({ when: now, amount: -a.credit, service: 'stripe_payments', description: 'Automatic charge of the card on file' });
      a.credit = 0;
      a.nextCardChargeAt = now + CARD_CHARGE_SECONDS;
    }
    return;
  }
  if (a.deletionScheduledAt === null) {
    a.deletionScheduledAt = now + world.options.deletionGraceSeconds;
    for (const inst of live) {
      world.stop(inst, 'Insufficient balance: stopped, scheduled for deletion unless credit is added');
    }
  } else if (now >= a.deletionScheduledAt) {
    for (const inst of live) world.destroy(inst);
  }
}
