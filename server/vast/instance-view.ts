import type { VastClient } from './client.js';
import { diagnose, type Diagnosis, type DiagnosisContext } from './diagnosis.js';
import { instanceBurnPerHour, round4 } from './pricing.js';
import type { Instance } from './schemas.js';

export interface SshEndpoints {
  proxy: string | null;
  direct: string | null;
}

/** As the CLI's ssh-url: direct when port 22 is mapped, else the proxy (+1 for jupyter images). */
export function sshEndpoints(inst: Instance): SshEndpoints {
  const directPort = inst.ports?.['22/tcp']?.[0]?.HostPort;
  const direct = directPort && inst.public_ipaddr ? `ssh://root@${inst.public_ipaddr}:${Number(directPort)}` : null;
  let proxy: string | null = null;
  if (inst.ssh_host && inst.ssh_port) {
    const port = inst.ssh_port + ((inst.image_runtype ?? '').includes('jupyter') ? 1 : 0);
    proxy = `ssh://root@${inst.ssh_host}:${port}`;
  }
  return { proxy, direct };
}

export interface AccruedCost {
  total: number;
  gpu: number;
  disk: number;
  bandwidth: number;
}

/** Charges per instance id over [from, to], from the charges endpoint. */
export async function accruedByInstance(vast: VastClient, from: number, to: number): Promise<Map<number, AccruedCost>> {
  const out = new Map<number, AccruedCost>();
  for (const r of await vast.charges(from, to)) {
    const m = /^instance-(\d+)$/.exec(r.source);
    if (!m) continue;
    const id = Number(m[1]);
    const acc = out.get(id) ?? { total: 0, gpu: 0, disk: 0, bandwidth: 0 };
    acc.total += r.amount;
    for (const item of r.items ?? []) {
      if (item.type === 'gpu') acc.gpu += item.amount;
      else if (item.type === 'disk') acc.disk += item.amount;
      else if (item.type === 'bwu' || item.type === 'bwd') acc.bandwidth += item.amount;
    }
    out.set(id, acc);
  }
  for (const acc of out.values()) {
    acc.total = round4(acc.total);
    acc.gpu = round4(acc.gpu);
    acc.disk = round4(acc.disk);
    acc.bandwidth = round4(acc.bandwidth);
  }
  return out;
}

export interface InstanceView {
  id: number;
  label: string | null;
  actual_status: string | null;
  intended_status: string | null;
  status_msg: string | null;
  image: string | null;
  gpu_name: string | null;
  num_gpus: number | null;
  disk_gb: number | null;
  interruptible: boolean;
  uptime_minutes: number | null;
  age_hours: number | null;
  dph_total: number | null;
  burn_per_hour: { total: number; gpu: number; disk: number };
  accrued_cost: AccruedCost | null;
  ssh: SshEndpoints;
  diagnosis: Diagnosis;
  /** Rental end (ISO time) and hours left: at the end the platform stops it; 48 h later it may be deleted. */
  end_date: string | null;
  hours_left: number | null;
}

/** Warn when less than this is left on the rental contract. */
export const EXPIRY_WARNING_HOURS = 24;

/** A warning for a rental close to its end (or past it), else null. */
export function expiryWarning(inst: Instance, now: number): string | null {
  if (!inst.end_date) return null;
  const left = (inst.end_date - now) / 3600;
  if (left <= 0)
    return `The rental contract of #${inst.id} ended at ${new Date(inst.end_date * 1000).toISOString()}; it may be deleted (with its disk) 48 h after that.`;
  if (left > EXPIRY_WARNING_HOURS) return null;
  return `The rental contract of #${inst.id} ends in ${left.toFixed(1)} h (${new Date(inst.end_date * 1000).toISOString()}): the platform stops it then and may delete it 48 h later. Copy results off before.`;
}

export function viewInstance(inst: Instance, now: number, accrued: AccruedCost | null, ctx: DiagnosisContext = {}): InstanceView {
  return {
    id: inst.id,
    label: inst.label ?? null,
    actual_status: inst.actual_status ?? null,
    intended_status: inst.intended_status ?? null,
    status_msg: inst.status_msg ?? null,
    image: inst.image_uuid ?? null,
    gpu_name: inst.gpu_name ?? null,
    num_gpus: inst.num_gpus ?? null,
    disk_gb: inst.disk_space ?? null,
    interruptible: Boolean(inst.is_bid),
    uptime_minutes: inst.uptime_mins != null ? Math.round(inst.uptime_mins * 10) / 10 : null,
    age_hours: inst.start_date ? Math.round(((now - inst.start_date) / 3600) * 100) / 100 : null,
    dph_total: inst.dph_total ?? null,
    burn_per_hour: instanceBurnPerHour(inst),
    accrued_cost: accrued,
    ssh: sshEndpoints(inst),
    diagnosis: diagnose(inst, now, undefined, ctx),
    end_date: inst.end_date ? new Date(inst.end_date * 1000).toISOString() : null,
    hours_left: inst.end_date ? Math.round(((inst.end_date - now) / 3600) * 10) / 10 : null,
  };
}
