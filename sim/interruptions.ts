import type { Ask } from './marketplace.js';
import type { SimWorld } from './world.js';
import type { SimInstance } from './types.js';

/**
 * Interrupts an interruptible instance the way the platform does (dstack compute.py 209-216,
 * PR #4037): `cur_state = intended_status = next_state = "stopped"`, no "Outbid" text, GPUs
 * released, disk still billed. With `outbidShape: 'intended_running'` the other documented reading
 * ("paused, resumes automatically", DOC instance-types.mdx:76-78) keeps intended running.
 */
export function interrupt(world: SimWorld, inst: SimInstance): void {
  world.accrue(inst, world.now());
  inst.pending = null;
  inst.phaseEndsAt = null;
  inst.runningSince = null;
  inst.holdsGpus = false;
  inst.actual = 'stopped';
  if (world.fidelity.outbidShape === 'intended_stopped') {
    inst.intended = 'stopped';
    inst.statusMsg = '';
  } else {
    inst.intended = 'running';
    inst.statusMsg = 'Outbid: paused because a higher bid took the GPU';
  }
  world.log(inst, 'container stopped (interrupted)');
  world.events.emit('stopped', inst);
}

/**
 * An on-demand rental (price null) or a higher bid lands on a machine whose GPUs bid instances hold:
 * the lowest bids are interrupted until the new rental fits. Returns the interrupted instances.
 */
export function outbidFor(world: SimWorld, ask: Ask, price: number | null): SimInstance[] {
  const perGpu = price === null ? Infinity : price / ask.numGpus;
  const victims = world
    .liveInstances()
    .filter((i) => i.holdsGpus && i.isBid && i.ask.machine.machineId === ask.machine.machineId && i.gpuRate / i.numGpus < perGpu)
    .sort((a, b) => a.gpuRate / a.numGpus - b.gpuRate / b.numGpus);
  const m = ask.machine;
  const free = m.gpuTotal - m.gpusBusyByOthers - world.gpusHeldOn(m.machineId);
  if (!m.listed || free + victims.reduce((n, v) => n + v.numGpus, 0) < ask.numGpus) return [];
  const out: SimInstance[] = [];
  for (const v of victims) {
    if (world.askAvailable(ask)) break;
    interrupt(world, v);
    out.push(v);
  }
  return out;
}

/**
 * A restart the user did not ask for: the host restarts the container (a host reboot, a daemon
 * restart), so it reads `exited` and comes back by itself; uptime counts from zero again. The disk
 * is kept, as with a reboot ("docker stop/start on the host", DOC reboot_instance.yaml).
 */
export function hostRestart(world: SimWorld, inst: SimInstance, downSeconds = 5): boolean {
  if (inst.destroyedAt !== null || inst.actual !== 'running') return false;
  world.accrue(inst, world.now());
  inst.actual = 'exited';
  inst.statusMsg = 'Container exited; the host is restarting it';
  inst.runningSince = null;
  inst.pending = null;
  inst.phaseEndsAt = world.now() + downSeconds;
  inst.hostRestarts = [...(inst.hostRestarts ?? []), world.now()];
  world.log(inst, 'container exited (host restart)');
  world.events.emit('stopped', inst);
  return true;
}
