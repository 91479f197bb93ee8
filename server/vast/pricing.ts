import type { Instance, Offer } from './schemas.js';

/** Vast prices storage per GB per month; the API turns it into an hourly rate over 720 hours. */
export const HOURS_PER_MONTH = 720;

export const round4 = (v: number): number => Math.round(v * 10000) / 10000;
export const round2 = (v: number): number => Math.round(v * 100) / 100;

export function diskPerHour(storageCostPerGbMonth: number, diskGb: number): number {
  return (storageCostPerGbMonth * diskGb) / HOURS_PER_MONTH;
}

export interface CostProjection {
  gpu_per_hour: number;
  disk_per_hour: number;
  total_per_hour: number;
  hours: number;
  projected_total: number;
}

/** Total $/h and the projected cost of running `hours` with `diskGb` of disk (bandwidth not included). */
export function projectOfferCost(offer: Offer, diskGb: number, hours: number): CostProjection {
  const disk = diskPerHour(offer.storage_cost ?? 0, diskGb);
  const gpu = offer.dph_base ?? offer.dph_total - disk;
  return {
    gpu_per_hour: round4(gpu),
    disk_per_hour: round4(disk),
    total_per_hour: round4(gpu + disk),
    hours,
    projected_total: round2((gpu + disk) * hours),
  };
}

/**
 * What the instance costs per hour right now: GPU while running and while frozen ("GPU charges
 * apply", DOC cli/reference/show-instance.mdx); disk in every state until destroyed.
 */
export function instanceBurnPerHour(inst: Instance): { total: number; gpu: number; disk: number } {
  const disk = diskPerHour(inst.storage_cost ?? 0, inst.disk_space ?? 0);
  const gpu = inst.actual_status === 'running' || inst.actual_status === 'frozen' ? (inst.dph_base ?? Math.max(0, (inst.dph_total ?? 0) - disk)) : 0;
  return { total: round4(gpu + disk), gpu: round4(gpu), disk: round4(disk) };
}
