import type { Instance } from './schemas.js';
import { instanceBurnPerHour } from './pricing.js';

export type DiagnosisCode =
  | 'running' | 'provisioning' | 'loading' | 'loading_slow' | 'scheduling' | 'outbid' | 'offline' | 'exited' | 'stopped_billing_disk' | 'rebooting' | 'unknown';

export interface Diagnosis {
  code: DiagnosisCode;
  summary: string;
}

export interface DiagnosisThresholds {
  /** An image pull longer than this is reported as slow. */
  loadingSlowSeconds: number;
}

export const DEFAULT_THRESHOLDS: DiagnosisThresholds = { loadingSlowSeconds: 15 * 60 };

/** A plain-language reading of an instance's state, with what to do about it. */
export function diagnose(inst: Instance, nowEpoch: number, t: DiagnosisThresholds = DEFAULT_THRESHOLDS): Diagnosis {
  const actual = inst.actual_status ?? null;
  const intended = inst.intended_status ?? inst.next_state ?? null;
  const age = inst.start_date ? nowEpoch - inst.start_date : 0;
  const msg = inst.status_msg ? ` (${inst.status_msg.slice(0, 200)})` : '';
  const burn = instanceBurnPerHour(inst);
  if (actual === 'running') return { code: 'running', summary: `Running; billing $${burn.total.toFixed(4)}/h.` };
  if (actual === 'offline') return { code: 'offline', summary: `The host is offline${msg}. The instance cannot run until the host returns; disk keeps billing. Copy off anything you can once it is back, or destroy it and rent elsewhere.` };
  if (actual === 'exited') return { code: 'exited', summary: `The container exited${msg}. Check the logs (logs tool) for the cause; start it again or fix the image/onstart command.` };
  if (actual === 'rebooting') return { code: 'rebooting', summary: 'Rebooting; it should be running again shortly.' };
  if (intended === 'running' && (actual === 'stopped' || actual === 'created') && /schedul|waiting for the gpu/i.test(inst.status_msg ?? '')) {
    return { code: 'scheduling', summary: `Waiting for its GPU(s) on machine ${inst.machine_id ?? '?'}${msg}: a stopped instance is bound to its machine, and the GPUs were taken meanwhile. It may wait indefinitely while disk bills $${burn.disk.toFixed(4)}/h. Copy data off when it can start, or destroy it and rent a new offer.` };
  }
  if (intended === 'running' && actual === 'stopped' && (inst.is_bid || /outbid/i.test(inst.status_msg ?? ''))) {
    return { code: 'outbid', summary: `Paused: this interruptible instance was outbid${msg}, without warning. Disk keeps billing $${burn.disk.toFixed(4)}/h. Raise the bid (bid tool), wait for prices to drop, or relaunch from the last checkpoint on an on-demand offer.` };
  }
  if (actual === 'stopped' || (actual === null && intended === 'stopped')) {
    return { code: 'stopped_billing_disk', summary: `Stopped, but still billing disk at $${burn.disk.toFixed(4)}/h ($${(burn.disk * 24).toFixed(2)}/day). Only destroy stops the meter, and destroy deletes the disk: copy results off first.` };
  }
  if (actual === 'loading') {
    if (age > t.loadingSlowSeconds) {
      return { code: 'loading_slow', summary: `Still loading after ${Math.round(age / 60)} min${msg}: the image pull is slow (large image or slow host). Wait a little more, or destroy and pick a host with faster download (inet_down) or a smaller image.` };
    }
    return { code: 'loading', summary: `Loading: pulling the image and starting the container${msg}.` };
  }
  if (actual === null || actual === 'created') return { code: 'provisioning', summary: `Provisioning${msg}.` };
  return { code: 'unknown', summary: `State ${String(actual)}${msg}.` };
}
