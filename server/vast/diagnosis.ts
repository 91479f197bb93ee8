import type { Instance } from './schemas.js';
import { instanceBurnPerHour } from './pricing.js';

export type DiagnosisCode =
  | 'running'
  | 'provisioning'
  | 'loading'
  | 'loading_slow'
  | 'scheduling'
  | 'outbid'
  | 'interrupted'
  | 'offline'
  | 'exited'
  | 'stopped_billing_disk'
  | 'rebooting'
  | 'recycling'
  | 'frozen'
  | 'no_heartbeat'
  | 'pull_failed'
  | 'start_failed'
  | 'expired'
  | 'unknown';

export interface Diagnosis {
  code: DiagnosisCode;
  summary: string;
}

export interface DiagnosisThresholds {
  /** An image pull longer than this is reported as slow. */
  loadingSlowSeconds: number;
}

export const DEFAULT_THRESHOLDS: DiagnosisThresholds = { loadingSlowSeconds: 15 * 60 };

/** States from which an instance will not reach running by itself (`wait` stops on them). */
export const DEAD_CODES: ReadonlySet<DiagnosisCode> = new Set([
  'exited',
  'offline',
  'outbid',
  'interrupted',
  'frozen',
  'no_heartbeat',
  'pull_failed',
  'start_failed',
  'expired',
]);

/**
 * Pull failures as the host reports them (vast-cli `vastai/cli/self_test/runtime_diagnostics.py`
 * 246-255: "pull access denied", "manifest", "unauthorized", …).
 */
const PULL_ERROR =
  /pull access denied|manifest (unknown|for .* not found)|repository does not exist|unauthorized|authentication required|no such host|invalid reference format|not found: manifest|error pulling image|failed to pull/i;
/** dstack compute.py 204-207: `created` with this message never starts. */
const START_ERROR = /oci runtime create failed|error response from daemon|failed to create (shim|task)|container create failed/i;

export interface DiagnosisContext {
  /** This server's audit log shows a stop as the instance's latest lifecycle action (a user stop, not an interruption). */
  stoppedHere?: boolean;
}

/** A plain-language reading of an instance's state, with what to do about it. */
export function diagnose(inst: Instance, nowEpoch: number, t: DiagnosisThresholds = DEFAULT_THRESHOLDS, ctx: DiagnosisContext = {}): Diagnosis {
  const actual = inst.actual_status ?? null;
  const intended = inst.intended_status ?? inst.next_state ?? null;
  const age = inst.start_date ? nowEpoch - inst.start_date : 0;
  const statusMsg = inst.status_msg ?? '';
  const msg = statusMsg ? ` (${statusMsg.slice(0, 200)})` : '';
  const burn = instanceBurnPerHour(inst);
  const diskLine = `Disk keeps billing $${burn.disk.toFixed(4)}/h.`;
  if (inst.end_date && nowEpoch >= inst.end_date && actual !== 'running') {
    return {
      code: 'expired',
      summary: `The rental contract ended at ${new Date(inst.end_date * 1000).toISOString()}: the instance was stopped and cannot be restarted; the platform may delete it (and its disk) 48 h after the end. ${diskLine} Copy results off now if it is reachable, then destroy it.`,
    };
  }
  if (actual === 'running') return { code: 'running', summary: `Running; billing $${burn.total.toFixed(4)}/h.` };
  if (PULL_ERROR.test(statusMsg) && (actual === null || actual === 'created' || actual === 'loading' || actual === 'exited')) {
    return {
      code: 'pull_failed',
      summary: `The image could not be pulled${msg}. It will not start: check the image name, tag and registry login. ${diskLine} Destroy it and create again with a valid image.`,
    };
  }
  if (START_ERROR.test(statusMsg) && (actual === null || actual === 'created' || actual === 'loading' || actual === 'exited')) {
    return {
      code: 'start_failed',
      summary: `The container failed to start${msg}. It will not start by itself. ${diskLine} Check the image and onstart, then destroy it and create again.`,
    };
  }
  if (actual === 'offline')
    return {
      code: 'offline',
      summary: `The host is offline${msg}. The instance cannot run until the host returns; disk keeps billing. Copy off anything you can once it is back, or destroy it and rent elsewhere.`,
    };
  if (actual === 'unknown')
    return {
      code: 'no_heartbeat',
      summary: `The host stopped reporting (no heartbeat)${msg}. Such an instance does not come back to running by itself. ${diskLine} Copy off what you can if it answers, or destroy it and rent elsewhere.`,
    };
  if (actual === 'frozen')
    return {
      code: 'frozen',
      summary: `Frozen${msg}: the container is paused but the GPUs stay reserved and BILLED ($${burn.total.toFixed(4)}/h). Stop or destroy it if you do not need it.`,
    };
  if (actual === 'exited')
    return {
      code: 'exited',
      summary: `The container exited${msg}. Check the logs (logs tool) for the cause; reboot or start it again, or fix the image/onstart command.`,
    };
  if (actual === 'rebooting') return { code: 'rebooting', summary: 'Rebooting; it should be running again shortly.' };
  if (actual === 'recycling')
    return {
      code: 'recycling',
      summary: `Recycling: the container is recreated from a fresh image pull; files on the container disk are LOST${msg}.`,
    };
  if (intended === 'running' && (actual === 'stopped' || actual === 'created') && /schedul|waiting for the gpu/i.test(statusMsg)) {
    return {
      code: 'scheduling',
      summary: `Waiting for its GPU(s) on machine ${inst.machine_id ?? '?'}${msg}: a stopped instance is bound to its machine, and the GPUs were taken meanwhile. It may wait indefinitely while disk bills $${burn.disk.toFixed(4)}/h. Copy data off when it can start, or destroy it and rent a new offer.`,
    };
  }
  // dstack compute.py 209-216 (PR #4037): an interrupted (outbid) spot instance reads
  // cur_state = intended_status = next_state = "stopped", exactly like a user stop.
  if (
    !ctx.stoppedHere &&
    inst.is_bid &&
    intended === 'stopped' &&
    (inst.cur_state ?? 'stopped') === 'stopped' &&
    (actual === 'stopped' || actual === 'exited' || actual === null)
  ) {
    return {
      code: 'interrupted',
      summary: `Stopped: this interruptible instance was interrupted (outbid by a higher bid or an on-demand rental) unless you stopped it yourself${msg}. ${diskLine} Raise the bid (bid tool) and start it, wait for prices to drop, or relaunch from the last checkpoint on an on-demand offer.`,
    };
  }
  // The other reading (docs: paused, "resume automatically when priority returns"): intended running.
  if (intended === 'running' && actual === 'stopped' && (inst.is_bid || /outbid/i.test(statusMsg))) {
    return {
      code: 'outbid',
      summary: `Paused: this interruptible instance was outbid${msg}, without warning. ${diskLine} Raise the bid (bid tool), wait for prices to drop, or relaunch from the last checkpoint on an on-demand offer.`,
    };
  }
  if (actual === 'stopped' || (actual === null && intended === 'stopped')) {
    return {
      code: 'stopped_billing_disk',
      summary: `Stopped, but still billing disk at $${burn.disk.toFixed(4)}/h ($${(burn.disk * 24).toFixed(2)}/day). Only destroy stops the meter, and destroy deletes the disk: copy results off first.`,
    };
  }
  if (actual === 'loading') {
    if (age > t.loadingSlowSeconds) {
      return {
        code: 'loading_slow',
        summary: `Still loading after ${Math.round(age / 60)} min${msg}: the image pull is slow (large image or slow host). Wait a little more, or destroy and pick a host with faster download (inet_down) or a smaller image.`,
      };
    }
    return { code: 'loading', summary: `Loading: pulling the image and starting the container${msg}.` };
  }
  if (actual === null || actual === 'created') return { code: 'provisioning', summary: `Provisioning${msg}.` };
  return { code: 'unknown', summary: `State ${String(actual)}${msg}.` };
}
