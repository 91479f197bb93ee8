import { InputError } from '../errors.js';
import type { CreateBody, VastClient } from './client.js';
import type { OfferFilters } from './offer-search.js';
import { fitsDisk, selectOffers } from './offer-selection.js';
import { diskPerHour, instanceBurnPerHour, round2, round4 } from './pricing.js';
import type { Instance, Offer } from './schemas.js';

export const CREATE_DEFAULTS = { gpu_name: 'RTX 4090', image: 'pytorch/pytorch:latest', disk_gb: 64, count: 1, hours: 1 };

export interface CreateRequest {
  offer_id?: number;
  filters: OfferFilters;
  image?: string;
  disk_gb?: number;
  count?: number;
  interruptible?: boolean;
  bid_multiplier?: number;
  conservative?: boolean;
  hours?: number;
}

export interface Resolved {
  image: string;
  disk_gb: number;
  count: number;
  interruptible: boolean;
  bid_multiplier: number;
  hours: number;
  filters: OfferFilters;
  defaults_applied: string[];
}

export function resolveRequest(req: CreateRequest, bidMultiplier: number): Resolved {
  const defaults: string[] = [];
  const pick = <T>(value: T | undefined, fallback: T, name: string): T => {
    if (value !== undefined) return value;
    defaults.push(`${name}=${JSON.stringify(fallback)}`);
    return fallback;
  };
  const filters = { ...req.filters };
  const hasFilter = Object.values(filters).some((v) => v !== undefined);
  if (req.offer_id === undefined && !hasFilter) {
    filters.gpu_name = CREATE_DEFAULTS.gpu_name;
    defaults.push(`gpu_name="${CREATE_DEFAULTS.gpu_name}"`);
  }
  const interruptible = req.interruptible ?? false;
  return {
    image: pick(req.image, CREATE_DEFAULTS.image, 'image'),
    disk_gb: pick(req.disk_gb, CREATE_DEFAULTS.disk_gb, 'disk_gb'),
    count: pick(req.count, CREATE_DEFAULTS.count, 'count'),
    interruptible,
    bid_multiplier: interruptible ? pick(req.bid_multiplier, bidMultiplier, 'bid_multiplier') : (req.bid_multiplier ?? bidMultiplier),
    hours: pick(req.hours, CREATE_DEFAULTS.hours, 'hours'),
    filters,
    defaults_applied: defaults,
  };
}

export interface QuoteLine {
  offer_id: number;
  machine_id: number;
  gpu_name: string;
  num_gpus: number;
  location: string | null;
  reliability: number | null;
  direct_ports: number;
  gpu_per_hour: number;
  bid_per_hour: number | null;
  disk_per_hour: number;
  total_per_hour: number;
  storage_cost_per_gb_month: number;
  bandwidth_up_per_gb: number;
  bandwidth_down_per_gb: number;
  projected_total: number;
}

export function quoteOffer(o: Offer, r: Resolved): QuoteLine {
  const bid = r.interruptible ? round4((o.min_bid ?? o.dph_base ?? o.dph_total) * r.bid_multiplier) : null;
  const gpu = bid ?? o.dph_base ?? o.dph_total - diskPerHour(o.storage_cost ?? 0, r.disk_gb);
  const disk = diskPerHour(o.storage_cost ?? 0, r.disk_gb);
  return {
    offer_id: o.id,
    machine_id: o.machine_id,
    gpu_name: o.gpu_name,
    num_gpus: o.num_gpus,
    location: o.geolocation ?? null,
    reliability: o.reliability ?? o.reliability2 ?? null,
    direct_ports: o.direct_port_count ?? 0,
    gpu_per_hour: round4(gpu),
    bid_per_hour: bid,
    disk_per_hour: round4(disk),
    total_per_hour: round4(gpu + disk),
    storage_cost_per_gb_month: o.storage_cost ?? 0,
    bandwidth_up_per_gb: o.inet_up_cost ?? 0,
    bandwidth_down_per_gb: o.inet_down_cost ?? 0,
    projected_total: round2((gpu + disk) * r.hours),
  };
}

export interface Plan {
  chosen: Offer[];
  spares: Offer[];
  quote: QuoteLine[];
  total_per_hour: number;
  projected_total: number;
}

/**
 * The platform may or may not refuse a create it cannot bill (undocumented: the simulator can answer
 * 411 or rent and stop it at $0, where the disk keeps billing): this server refuses first when the
 * account's credit does not cover one hour of the plan. An unreadable balance does not block.
 */
async function checkCredit(vast: VastClient, quote: QuoteLine[]): Promise<void> {
  const perHour = quote.reduce((s, q) => s + q.total_per_hour, 0);
  const credit = await vast
    .currentUser()
    .then((u) => u.credit)
    .catch(() => null);
  if (credit !== null && Number.isFinite(credit) && credit < perHour)
    throw new InputError(
      `Your Vast credit ($${credit.toFixed(2)}) does not cover one hour of this plan ($${perHour.toFixed(4)}/h). Nothing was rented: ` +
        'at $0 the platform stops every instance (disks keep billing). Add credit at https://cloud.vast.ai/billing/ first.',
    );
}

/** Finds the offers to rent: the given offer id, or the cheapest matches (one per machine). */
export async function planOffers(vast: VastClient, req: CreateRequest, r: Resolved): Promise<Plan> {
  let chosen: Offer[];
  let spares: Offer[];
  const filters = { ...r.filters, disk_gb: r.disk_gb, interruptible: r.interruptible };
  if (req.offer_id !== undefined) {
    const [offer] = await vast.searchOffers({
      id: { eq: req.offer_id },
      rentable: { eq: true },
      rented: { eq: false },
      type: r.interruptible ? 'bid' : 'on-demand',
      allocated_storage: r.disk_gb,
      limit: 1,
    });
    if (!offer) throw new InputError(`Offer ${req.offer_id} is no longer available (taken or unlisted). Call offers again and pick another.`);
    if (!fitsDisk(offer, r.disk_gb))
      throw new InputError(
        `Offer ${req.offer_id} has only ${offer.disk_space} GB of disk, less than the ${r.disk_gb} GB requested. Pick another offer or ask for less disk.`,
      );
    if (r.count !== 1)
      throw new InputError('offer_id rents exactly one instance: leave count at 1, or give filters instead of offer_id to rent several.');
    chosen = [offer];
    spares = (
      await selectOffers(vast, { gpu_name: offer.gpu_name, num_gpus: offer.num_gpus, disk_gb: r.disk_gb, interruptible: r.interruptible }, 4, false)
    ).chosen.filter((o) => o.machine_id !== offer.machine_id);
  } else {
    const s = await selectOffers(vast, filters, r.count, req.conservative ?? false);
    chosen = s.chosen;
    spares = s.spares;
  }
  if (chosen.length < r.count) {
    throw new InputError(
      `Only ${chosen.length} matching offer(s) on distinct machines for count=${r.count}. Loosen the filters (price, reliability, region) or lower count.`,
    );
  }
  const quote = chosen.map((o) => quoteOffer(o, r));
  await checkCredit(vast, quote);
  return {
    chosen,
    spares,
    quote,
    total_per_hour: round4(quote.reduce((s, q) => s + q.total_per_hour, 0)),
    projected_total: round2(quote.reduce((s, q) => s + q.projected_total, 0)),
  };
}

export function createBody(
  o: Offer,
  r: Resolved,
  q: QuoteLine,
  extra: { label: string; env: Record<string, string>; onstart: string | null },
): CreateBody & { label: string } {
  // Direct SSH when the offer has direct ports: bulk copies through the proxy are slow.
  const runtype = (o.direct_port_count ?? 0) > 0 ? 'ssh_direc ssh_proxy' : 'ssh_proxy';
  return {
    client_id: 'me',
    image: r.image,
    env: extra.env,
    price: q.bid_per_hour,
    disk: r.disk_gb,
    label: extra.label,
    extra: null,
    onstart: extra.onstart,
    runtype,
    cancel_unavail: true,
    image_login: null,
    python_utf8: false,
    lang_utf8: false,
    use_jupyter_lab: false,
    jupyter_dir: null,
    force: false,
    template_hash_id: null,
    user: null,
  };
}

export interface Preflight {
  id: number;
  label: string | null;
  state: string | null;
  burn_per_hour: number;
}

/** Active instances the caller did not say it expected: the user should know before renting more. */
export function unexpectedInstances(all: Instance[], expected: number[] | undefined): Preflight[] {
  const known = new Set(expected ?? []);
  return all
    .filter((i) => !known.has(i.id))
    .map((i) => ({ id: i.id, label: i.label ?? null, state: i.actual_status ?? null, burn_per_hour: instanceBurnPerHour(i).total }));
}
