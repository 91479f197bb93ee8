import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BillingLedger } from './billing-ledger.js';
import { SimClock } from './clock.js';
import { generateMarketplace, type Ask, type Marketplace } from './marketplace.js';
import { createRng, type Rng } from './rng.js';
import type { SimAccount, SimInstance } from './types.js';

export interface WorldOptions {
  seed: string | number;
  offers: number;
  apiKey: string;
  timeScale: number;
  startingCredit: number;
  /** Seconds from zero balance to the deletion of the stopped instances. */
  deletionGraceSeconds: number;
}

export const PROVISION_SECONDS = 8;
export const RESTART_LOAD_SECONDS = 12;
export const REBOOT_SECONDS = 20;

/** The simulated platform: one account, the marketplace, instances, the clock and the billing ledger. */
export class SimWorld {
  readonly clock: SimClock;
  readonly market: Marketplace;
  readonly ledger = new BillingLedger();
  readonly account: SimAccount;
  readonly instances = new Map<number, SimInstance>();
  /** 'running', 'stopped' (also on reboot) and 'destroyed', with the instance: SSH follows these. */
  readonly events = new EventEmitter();
  private readonly rng: Rng;
  private nextInstanceId: number;
  private nextKeyId = 17;
  private nextPort = 41000;

  constructor(readonly options: WorldOptions) {
    this.clock = new SimClock(options.timeScale);
    this.market = generateMarketplace(options.seed, options.offers);
    this.rng = createRng(`world:${options.seed}`);
    this.nextInstanceId = 20_000_000 + this.rng.int(0, 999) * 1000;
    this.account = {
      id: 31337,
      username: 'ada',
      email: 'ada.lovelace@example.com',
      fullname: 'Ada Lovelace',
      apiKey: options.apiKey,
      credit: options.startingCredit,
      sshKeys: [],
      deletionScheduledAt: null,
    };
    this.ledger.addPayment({ when: this.clock.now() - 86400 * 3, amount: options.startingCredit, service: 'stripe_payments', description: 'Credit purchase' });
  }

  now(): number {
    return this.clock.now();
  }

  gpusHeldOn(machineId: number): number {
    let n = 0;
    for (const i of this.instances.values()) if (i.holdsGpus && i.ask.machine.machineId === machineId) n += i.numGpus;
    return n;
  }

  askAvailable(ask: Ask): boolean {
    const m = ask.machine;
    return m.listed && m.gpuTotal - m.gpusBusyByOthers - this.gpusHeldOn(m.machineId) >= ask.numGpus;
  }

  liveInstances(): SimInstance[] {
    return [...this.instances.values()].filter((i) => i.destroyedAt === null).sort((a, b) => a.id - b.id);
  }

  allocatePort(): number {
    return this.nextPort++;
  }

  newInstanceId(): number {
    this.nextInstanceId += this.rng.int(1, 97);
    return this.nextInstanceId;
  }

  newKeyId(): number {
    return this.nextKeyId++;
  }

  newSecret(): string {
    return randomBytes(32).toString('hex');
  }

  log(inst: SimInstance, line: string): void {
    const stamp = new Date(this.now() * 1000).toISOString();
    inst.logLines.push(`${stamp} ${line}`);
    if (inst.logLines.length > 5000) inst.logLines.splice(0, inst.logLines.length - 5000);
  }

  /** Brings every instance and the account up to the current simulated time. */
  tick(): void {
    const now = this.now();
    for (const inst of this.instances.values()) {
      if (inst.destroyedAt !== null) continue;
      this.advanceInstance(inst, now);
    }
    this.enforceBalance(now);
  }

  private advanceInstance(inst: SimInstance, now: number): void {
    while (inst.phaseEndsAt !== null && inst.phaseEndsAt <= now) {
      const t = inst.phaseEndsAt;
      this.accrue(inst, t);
      this.finishPhase(inst, t);
    }
    this.accrue(inst, now);
  }

  private finishPhase(inst: SimInstance, t: number): void {
    if (inst.actual === null) {
      inst.actual = 'loading';
      inst.statusMsg = `Pulling image ${inst.image}`;
      inst.phaseEndsAt = t + inst.imagePullSeconds;
      this.log(inst, `pulling ${inst.image}`);
      return;
    }
    if (inst.actual === 'loading' || inst.actual === 'rebooting') {
      inst.actual = 'running';
      inst.statusMsg = `success, running ${inst.image}`;
      inst.phaseEndsAt = null;
      inst.runningSince = t;
      this.log(inst, 'container started');
      if (inst.onstart) this.log(inst, 'running onstart script');
      this.events.emit('running', inst);
      return;
    }
    inst.phaseEndsAt = null;
  }

  /** Charges GPU time while running and disk in every state, from lastAccrual to `t`. */
  accrue(inst: SimInstance, t: number): void {
    const from = inst.lastAccrual;
    if (t <= from) return;
    const hours = (t - from) / 3600;
    inst.lastAccrual = t;
    if (inst.actual === 'running') {
      const amount = this.ledger.charge(inst.id, 'gpu', t, hours, inst.gpuRate);
      inst.costs.gpu += amount;
      this.account.credit -= amount;
    }
    const disk = this.ledger.charge(inst.id, 'disk', t, hours * inst.diskGb, inst.diskRate / inst.diskGb);
    inst.costs.disk += disk;
    this.account.credit -= disk;
  }

  chargeBandwidth(inst: SimInstance, bytesUp: number, bytesDown: number): void {
    const now = this.now();
    const m = inst.ask.machine;
    inst.bytesUp += bytesUp;
    inst.bytesDown += bytesDown;
    const up = this.ledger.charge(inst.id, 'bwu', now, bytesUp / 1e9, m.inetUpCost);
    const down = this.ledger.charge(inst.id, 'bwd', now, bytesDown / 1e9, m.inetDownCost);
    inst.costs.bwu += up;
    inst.costs.bwd += down;
    this.account.credit -= up + down;
  }

  private enforceBalance(now: number): void {
    if (this.account.credit > 0) {
      this.account.deletionScheduledAt = null;
      return;
    }
    const live = this.liveInstances();
    if (live.length === 0) return;
    if (this.account.deletionScheduledAt === null) {
      this.account.deletionScheduledAt = now + this.options.deletionGraceSeconds;
      for (const inst of live) {
        this.stop(inst, 'Insufficient balance: stopped, scheduled for deletion unless credit is added');
      }
    } else if (now >= this.account.deletionScheduledAt) {
      for (const inst of live) this.destroy(inst);
    }
  }

  stop(inst: SimInstance, msg = 'stopped by user'): void {
    this.accrue(inst, this.now());
    inst.intended = 'stopped';
    inst.actual = 'stopped';
    inst.statusMsg = msg;
    inst.phaseEndsAt = null;
    inst.runningSince = null;
    inst.holdsGpus = false;
    this.log(inst, `container stopped (${msg})`);
    this.events.emit('stopped', inst);
  }

  /** Asks for the instance to run; it waits in scheduling when its GPUs were taken meanwhile. */
  start(inst: SimInstance): void {
    this.accrue(inst, this.now());
    inst.intended = 'running';
    if (inst.actual === 'running' || inst.actual === 'loading' || inst.actual === null) return;
    if (!inst.holdsGpus && !this.askAvailable(inst.ask)) {
      inst.actual = 'stopped';
      inst.statusMsg = 'Scheduling: waiting for the GPU(s) on this machine to become free';
      return;
    }
    inst.holdsGpus = true;
    inst.actual = 'loading';
    inst.statusMsg = 'Starting container';
    inst.phaseEndsAt = this.now() + RESTART_LOAD_SECONDS;
  }

  reboot(inst: SimInstance): void {
    this.accrue(inst, this.now());
    if (inst.actual !== 'running') return;
    inst.actual = 'rebooting';
    inst.statusMsg = 'Rebooting';
    inst.runningSince = null;
    inst.phaseEndsAt = this.now() + REBOOT_SECONDS;
    this.events.emit('stopped', inst);
  }

  destroy(inst: SimInstance): void {
    if (inst.destroyedAt !== null) return;
    this.accrue(inst, this.now());
    inst.destroyedAt = this.now();
    inst.holdsGpus = false;
    inst.actual = null;
    inst.phaseEndsAt = null;
    inst.runningSince = null;
    this.events.emit('destroyed', inst);
  }

  /** Re-schedules instances that were waiting for GPUs (called when a machine frees up). */
  reschedule(): void {
    for (const inst of this.liveInstances()) {
      if (inst.intended === 'running' && inst.actual === 'stopped' && !inst.holdsGpus) this.start(inst);
    }
  }
}
