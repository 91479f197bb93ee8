import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BillingLedger } from './billing-ledger.js';
import { SimClock } from './clock.js';
import { generateMarketplace, type Ask, type Marketplace } from './marketplace.js';
import { createRng, type Rng } from './rng.js';
import type { SimAccount, SimInstance } from './types.js';
import { LENIENT_SIM, type FidelityOptions } from './fidelity.js';
import { imageResolvable, pullErrorMessage } from './image-pull.js';
import { accrue, chargeBandwidth, enforceBalance } from './world-billing.js';

export interface WorldOptions {
  seed: string | number;
  offers: number;
  apiKey: string;
  timeScale: number;
  startingCredit: number;
  /** Seconds from zero balance to the deletion of the stopped instances. */
  deletionGraceSeconds: number;
  /** Realistic behaviours (default here: the old kind simulator; the server passes its own). */
  fidelity?: FidelityOptions;
}

/** "Expired instances may be deleted 48 hours after expiration" (DOC manage-instances.mdx:158). */
export const EXPIRED_DELETE_SECONDS = 48 * 3600;

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
  readonly fidelity: FidelityOptions;

  constructor(readonly options: WorldOptions) {
    this.fidelity = { ...(options.fidelity ?? LENIENT_SIM) };
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
      cardOnFile: true,
    };
    this.ledger.addPayment({
      when: this.clock.now() - 86400 * 3,
      amount: options.startingCredit,
      service: 'stripe_payments',
      description: 'Credit purchase',
    });
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
    enforceBalance(this, now);
  }

  private advanceInstance(inst: SimInstance, now: number): void {
    for (;;) {
      const next = Math.min(inst.phaseEndsAt ?? Infinity, inst.pending?.at ?? Infinity, this.expiryEventAt(inst));
      if (next > now) break;
      this.accrue(inst, next);
      if (inst.pending && inst.pending.at <= next) this.applyPending(inst);
      else if (inst.phaseEndsAt !== null && inst.phaseEndsAt <= next) this.finishPhase(inst, next);
      else this.expire(inst, next);
      if (inst.destroyedAt !== null) return;
    }
    if (inst.delayedStatus && inst.delayedStatus.at <= now) {
      inst.statusMsg = inst.delayedStatus.msg;
      inst.delayedStatus = null;
    }
    this.accrue(inst, now);
  }

  private expiryEventAt(inst: SimInstance): number {
    if (!this.fidelity.rentalExpiry || inst.endDate === null) return Infinity;
    return inst.deleteAt ?? inst.endDate;
  }

  /** The rental contract ends: the instance is stopped (and may not restart); 48 h later it is deleted. */
  private expire(inst: SimInstance, t: number): void {
    if (inst.deleteAt !== null) {
      this.destroy(inst);
      return;
    }
    inst.deleteAt = t + EXPIRED_DELETE_SECONDS;
    inst.pending = null;
    this.stopNow(inst, 'Rental contract expired');
  }

  private applyPending(inst: SimInstance): void {
    const p = inst.pending!;
    inst.pending = null;
    if (p.to === 'stopped') this.stopNow(inst, p.msg);
    else this.startNow(inst);
  }

  private finishPhase(inst: SimInstance, t: number): void {
    if (inst.actual === null) {
      inst.actual = 'loading';
      inst.statusMsg = `Pulling image ${inst.image}`;
      inst.phaseEndsAt = t + inst.imagePullSeconds;
      this.log(inst, `pulling ${inst.image}`);
      return;
    }
    if (inst.actual === 'loading' && this.fidelity.pullFailures && !imageResolvable(inst.image)) {
      // The host reports the pull error; the container is never created (dstack compute.py 204-207).
      inst.actual = 'created';
      inst.statusMsg = pullErrorMessage(inst.image);
      inst.phaseEndsAt = null;
      this.log(inst, inst.statusMsg);
      return;
    }
    if (inst.actual === 'exited' && inst.intended === 'running') {
      // The host brings the container back by itself (hostRestart).
      inst.actual = 'loading';
      inst.statusMsg = 'Starting container';
      inst.phaseEndsAt = t + RESTART_LOAD_SECONDS;
      return;
    }
    if (inst.actual === 'loading' || inst.actual === 'rebooting' || inst.actual === 'recycling') {
      inst.actual = 'running';
      inst.statusMsg = `success, running ${inst.image}`;
      inst.phaseEndsAt = null;
      inst.runningSince = t;
      inst.starts = [...(inst.starts ?? []), t];
      this.log(inst, 'container started');
      if (inst.onstart) this.log(inst, 'running onstart script');
      this.events.emit('running', inst);
      return;
    }
    inst.phaseEndsAt = null;
  }

  /** Charges GPU time while running and disk in every state, from lastAccrual to `t` (world-billing.ts). */
  accrue(inst: SimInstance, t: number): void {
    accrue(this, inst, t);
  }

  chargeBandwidth(inst: SimInstance, bytesUp: number, bytesDown: number): void {
    chargeBandwidth(this, inst, bytesUp, bytesDown);
  }

  /** A user stop: intended flips now, the container stops `stateChangeSeconds` later (DOC manage-instances.mdx). */
  stop(inst: SimInstance, msg = 'stopped by user'): void {
    const delay = this.fidelity.stateChangeSeconds;
    if (delay <= 0 || inst.actual === 'stopped' || inst.actual === null) {
      inst.pending = null;
      this.stopNow(inst, msg);
      return;
    }
    this.accrue(inst, this.now());
    inst.intended = 'stopped';
    inst.pending = { to: 'stopped', at: this.now() + delay, msg };
  }

  stopNow(inst: SimInstance, msg: string): void {
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

  /** Asks for the instance to run (visible after `stateChangeSeconds`); it waits in scheduling when its GPUs were taken meanwhile. */
  start(inst: SimInstance): void {
    this.accrue(inst, this.now());
    inst.intended = 'running';
    const delay = this.fidelity.stateChangeSeconds;
    if (inst.pending?.to === 'stopped') inst.pending = null;
    if (delay > 0 && inst.actual !== 'running' && inst.actual !== 'loading' && inst.actual !== null) {
      inst.pending = { to: 'running', at: this.now() + delay, msg: '' };
      return;
    }
    this.startNow(inst);
  }

  private startNow(inst: SimInstance): void {
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

  /** Restarts the container of a running or exited instance (DOC reboot_instance.yaml). */
  reboot(inst: SimInstance): void {
    this.accrue(inst, this.now());
    if (inst.actual !== 'running' && inst.actual !== 'exited') return;
    inst.intended = 'running';
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
