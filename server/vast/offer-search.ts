import { buildSearchBody, type QueryObject } from './query.js';
import type { Offer } from './schemas.js';
import { projectOfferCost, round4, type CostProjection } from './pricing.js';

export type OfferSort = 'price' | 'value' | 'reliability' | 'performance';

export interface OfferFilters {
  query?: string;
  gpu_name?: string;
  num_gpus?: number;
  min_gpu_ram_gb?: number;
  max_dph?: number;
  min_reliability?: number;
  geolocation?: string[];
  verified_only?: boolean;
  min_direct_ports?: number;
  interruptible?: boolean;
  disk_gb?: number;
  hours?: number;
  sort?: OfferSort;
  limit?: number;
}

export const OFFER_DEFAULTS = { disk_gb: 64, hours: 24, sort: 'price' as OfferSort, limit: 10 };

const SORTS: Record<OfferSort, string> = { price: 'dph_total+', value: 'dlperf_per_dphtotal-', reliability: 'reliability-', performance: 'dlperf-' };

export interface BuiltSearch {
  body: Record<string, unknown>;
  defaultsApplied: string[];
  warnings: string[];
  diskGb: number;
  hours: number;
}

/** Structured filters and/or query text → the `/bundles/` body; structured filters win over the text. */
export function buildOfferSearch(f: OfferFilters): BuiltSearch {
  const defaultsApplied: string[] = [];
  const diskGb = f.disk_gb ?? OFFER_DEFAULTS.disk_gb;
  if (f.disk_gb === undefined) defaultsApplied.push(`disk_gb=${diskGb} (prices include this much disk)`);
  const hours = f.hours ?? OFFER_DEFAULTS.hours;
  if (f.hours === undefined) defaultsApplied.push(`hours=${hours} (for the projected cost)`);
  const sort = f.sort ?? OFFER_DEFAULTS.sort;
  if (f.sort === undefined) defaultsApplied.push(`sort=${sort}`);
  const limit = f.limit ?? OFFER_DEFAULTS.limit;
  if (f.limit === undefined) defaultsApplied.push(`limit=${limit}`);
  const { body, warnings } = buildSearchBody({
    query: f.query,
    order: SORTS[sort],
    type: f.interruptible ? 'bid' : 'on-demand',
    limit,
    storageGb: diskGb,
  });
  const q = body as QueryObject & Record<string, unknown>;
  const textSet = (field: string) => f.query !== undefined && new RegExp(`(^|\\s)${field}\\b`).test(f.query);
  const implicit = (
    [
      ['verified', 'verified=true'],
      ['external', 'external=false'],
      ['rentable', 'rentable=true'],
      ['rented', 'rented=false'],
    ] as const
  )
    .filter(([field]) => q[field] && !textSet(field))
    .map(([, label]) => label);
  if (implicit.length) defaultsApplied.push(`${implicit.join(' ')} (the CLI's default filters; write e.g. verified=any in query to drop one)`);
  if (!f.interruptible) defaultsApplied.push('type=on-demand (set interruptible=true for bid pricing)');
  if (f.gpu_name !== undefined) q.gpu_name = { eq: f.gpu_name.replace(/_/g, ' ') };
  if (f.num_gpus !== undefined) q.num_gpus = { eq: f.num_gpus };
  if (f.min_gpu_ram_gb !== undefined) q.gpu_ram = { gte: f.min_gpu_ram_gb * 1000 };
  if (f.max_dph !== undefined) q.dph_total = { lte: f.max_dph };
  if (f.min_reliability !== undefined) q.reliability = { gte: f.min_reliability };
  if (f.geolocation !== undefined && f.geolocation.length > 0) q.geolocation = { in: f.geolocation.map((c) => c.toUpperCase()) };
  if (f.verified_only === false) delete q.verified;
  if (f.min_direct_ports !== undefined) q.direct_port_count = { gte: f.min_direct_ports };
  // An offer's `duration` is its maximum rental in seconds (DOC search_offers.yaml; vast.py turns the
  // query's days into seconds): a rental shorter than the job is stopped at its end.
  if (!textSet('duration')) q.duration = { gte: Math.ceil(hours * 3600) };
  return { body, defaultsApplied, warnings, diskGb, hours };
}

/** Offers whose maximum rental covers `hours` (unknown durations are kept); the API may ignore the filter. */
export function longEnough<T extends { duration?: number | null }>(offers: T[], hours: number): { kept: T[]; excluded: number } {
  const kept = offers.filter((o) => o.duration == null || o.duration >= hours * 3600);
  return { kept, excluded: offers.length - kept.length };
}

export interface OfferSummary {
  id: number;
  machine_id: number;
  gpu_name: string;
  num_gpus: number;
  gpu_ram_gb: number | null;
  dph_total: number;
  min_bid: number | null;
  storage_cost_per_gb_month: number | null;
  bandwidth_up_per_gb: number | null;
  bandwidth_down_per_gb: number | null;
  reliability: number | null;
  location: string | null;
  direct_ports: number;
  dlperf_per_dollar: number | null;
  verified: boolean;
  interruptible: boolean;
  cuda_max_good: number | null;
  /** Maximum rental length in hours (null when the offer does not say). */
  max_hours: number | null;
  projection: CostProjection;
}

export function summarizeOffer(o: Offer, diskGb: number, hours: number): OfferSummary {
  return {
    id: o.id,
    machine_id: o.machine_id,
    gpu_name: o.gpu_name,
    num_gpus: o.num_gpus,
    gpu_ram_gb: o.gpu_ram != null ? Math.round(o.gpu_ram / 1024) : null,
    dph_total: round4(o.dph_total),
    min_bid: o.min_bid != null ? round4(o.min_bid) : null,
    storage_cost_per_gb_month: o.storage_cost ?? null,
    bandwidth_up_per_gb: o.inet_up_cost ?? null,
    bandwidth_down_per_gb: o.inet_down_cost ?? null,
    reliability: o.reliability ?? o.reliability2 ?? null,
    location: o.geolocation ?? null,
    direct_ports: o.direct_port_count ?? 0,
    dlperf_per_dollar: o.dlperf_per_dphtotal != null ? Math.round(o.dlperf_per_dphtotal * 100) / 100 : null,
    verified: o.verified ?? o.verification === 'verified',
    interruptible: Boolean(o.is_bid),
    cuda_max_good: o.cuda_max_good ?? null,
    max_hours: o.duration != null ? Math.floor(o.duration / 3600) : null,
    projection: projectOfferCost(o, diskGb, hours),
  };
}
