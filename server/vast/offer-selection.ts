import { VastMcpError } from '../errors.js';
import type { VastClient } from './client.js';
import { buildOfferSearch, type OfferFilters } from './offer-search.js';
import type { Offer } from './schemas.js';

/** Whether the offer can hold `diskGb` of disk (`disk_space`, GB, per OpenAPI search_offers; unknown → assume it can). */
export function fitsDisk(o: Offer, diskGb: number | undefined): boolean {
  return diskGb === undefined || o.disk_space === null || o.disk_space === undefined || o.disk_space + 1e-9 >= diskGb;
}

/** The widest search page asked for (rows); the platform documents no maximum for `limit`. */
const MAX_LIMIT = 1024;

export interface Selection {
  chosen: Offer[];
  /** Further candidates, cheapest first, for replacing an offer taken meanwhile. */
  spares: Offer[];
  query: Record<string, unknown>;
}

/**
 * The cheapest valid offers (the second cheapest when `conservative`), one per machine, with the
 * mandatory `rentable=true rented=false` whatever the caller's query said.
 */
export async function selectOffers(vast: VastClient, filters: OfferFilters, count: number, conservative: boolean): Promise<Selection> {
  const want = count + (conservative ? 1 : 0);
  let limit = Math.min(64, count * 4 + 8);
  const search = buildOfferSearch({ ...filters, sort: 'price', limit });
  // An unknown field may be refused (400) or silently ignored by the platform (its answer is not
  // documented; the simulator can do both): never rent on a filter that may not have applied.
  const unknown = search.warnings.filter((w) => w.startsWith('Unrecognized field'));
  if (unknown.length)
    throw new VastMcpError(
      `${unknown.join(' ')} Nothing was rented: a rental is never chosen on a filter the platform may ignore. Use a field from the query language (see the api resource) or a structured filter.`,
      'invalid_input',
    );
  search.body.rentable = { eq: true };
  search.body.rented = { eq: false };
  // Never quote an offer whose machine cannot hold the requested disk (the platform would refuse or shrink it).
  const diskGb = filters.disk_gb;
  if (diskGb !== undefined) search.body.disk_space = { gte: diskGb };
  for (; ; limit = Math.min(MAX_LIMIT, limit * 4)) {
    search.body.limit = limit;
    const page = await vast.searchOffersPage(search.body);
    const offers = page.offers.filter((o) => o.rentable !== false && o.rented !== true && fitsDisk(o, diskGb));
    const perMachine: Offer[] = [];
    const seen = new Set<number>();
    for (const o of offers) {
      if (seen.has(o.machine_id)) continue;
      seen.add(o.machine_id);
      perMachine.push(o);
    }
    // Machines where the account already rents GPUs stay in the answer, flagged `rented`, and are set aside here: an
    // account renting dozens of the cheapest machines got a page of its own rentals and "no offer" (the jobs bench
    // stalled at 76 of 200). A full page that left too few is asked for again, wider.
    if (perMachine.length < want && page.returned >= limit && limit < MAX_LIMIT) continue;
    const start = conservative && perMachine.length > count ? 1 : 0;
    return { chosen: perMachine.slice(start, start + count), spares: perMachine.slice(start + count), query: search.body };
  }
}
