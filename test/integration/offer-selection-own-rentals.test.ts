import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOfferSearch } from '../../server/vast/offer-search.js';
import { selectOffers } from '../../server/vast/offer-selection.js';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { simFetch, startTestSim } from '../helpers/sim.js';

// Offers on machines where the account already rents GPUs stay in the platform's answer, flagged `rented`
// (DOC search_offers.yaml), and are never chosen. An account renting many of the cheapest machines used to
// get a first page made only of its own rentals, and "no offer" with plenty left on the market.
let sim: RunningSimulator;
let mcp: Connected;

beforeAll(async () => {
  sim = await startTestSim({ ssh: false });
  mcp = await connectInMemory(sim);
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('selectOffers with many rentals of our own on the cheapest machines', () => {
  it('looks past a first page made only of our rentals and picks a machine we do not rent', async () => {
    const filters = { gpu_name: 'RTX 4090', num_gpus: 1, disk_gb: 10, interruptible: false };
    const firstPage = Math.min(64, 1 * 4 + 8);
    const ours = new Set<number>();
    // Rent the cheapest machines until the first page of the search holds nothing but our own rentals.
    for (let i = 0; i < 40; i++) {
      const page = await mcp.deps.vast.searchOffersPage({
        ...buildOfferSearch({ ...filters, sort: 'price', limit: firstPage }).body,
        rentable: { eq: true },
      });
      if (page.returned >= firstPage && page.offers.every((o) => o.rented === true)) break;
      const next = page.offers.find((o) => o.rented !== true)!;
      const r = await simFetch(sim, 'PUT', `/api/v0/asks/${next.id}/`, { image: 'ubuntu:22.04', disk: 10 });
      expect(r.status).toBe(200);
      ours.add(next.machine_id);
    }
    const crowded = await mcp.deps.vast.searchOffersPage({
      ...buildOfferSearch({ ...filters, sort: 'price', limit: firstPage }).body,
      rentable: { eq: true },
    });
    expect(crowded.returned).toBe(firstPage);
    expect(crowded.offers.filter((o) => o.rented !== true)).toEqual([]);

    const sel = await selectOffers(mcp.deps.vast, filters, 1, false);
    expect(sel.chosen.length).toBe(1);
    expect(sel.chosen[0]!.rented).not.toBe(true);
    expect(ours.has(sel.chosen[0]!.machine_id)).toBe(false);
  }, 60_000);

  it('asks once when the market has fewer offers than a page', async () => {
    const mark = sim.requests.length;
    const sel = await selectOffers(mcp.deps.vast, { gpu_name: 'NoSuchGpu 1', disk_gb: 10, interruptible: false }, 1, false);
    expect(sel.chosen).toEqual([]);
    expect(sim.requests.slice(mark).filter((q) => q.path.startsWith('/api/v0/bundles')).length).toBe(1);
  });
});
