import { GPU_CATALOG } from '../gpu-catalog.js';
import { ok, errorBody, type SimRequest } from '../http-router.js';
import { filterAndSort, parseSearchBody, QueryError } from '../offer-query.js';
import { offerListed, renderOfferRow } from '../offer-rows.js';
import type { RouteContext } from './context.js';

export function registerOfferRoutes(ctx: RouteContext): void {
  const { router, world } = ctx;

  const search = (query: unknown) => {
    try {
      const parsed = parseSearchBody(query, world.fidelity.unknownSearchFields);
      // Offers without free GPUs are not for rent, whatever `rented` says (the server drops that key:
      // DOC search_offers.yaml `rented`); rows on machines where the caller rents GPUs stay, flagged.
      const rows = world.market.asks
        .filter((ask) => offerListed(ask, world.gpusHeldOn(ask.machine.machineId)))
        .map((ask) =>
          renderOfferRow(ask, {
            type: parsed.type,
            allocatedStorageGb: parsed.allocatedStorageGb,
            gpusHeldByUser: world.gpusHeldOn(ask.machine.machineId),
          }),
        );
      return ok({ offers: filterAndSort(rows, parsed) });
    } catch (e) {
      if (e instanceof QueryError) return errorBody(400, 'invalid_request', e.message);
      throw e;
    }
  };

  const names = () => [...new Set(GPU_CATALOG.map((g) => g.name))].sort();
  // vast.py search offers (names for the query language); no auth.
  router.add('GET', '/api/v0/gpu_names/unique', () => ok({ gpu_names: names() }), { auth: false });
  router.add('GET', '/api/v0/gpu_types', () => ok({ gpu_types: names() }), { auth: false });
  // DOC search_offers.yaml (body = query object; defaults per vast.py 4350-4414).
  router.add('POST', '/api/v0/bundles', (req: SimRequest) => search(req.body));
  // Very old CLIs: GET /bundles?q=<json>.
  router.add('GET', '/api/v0/bundles', (req: SimRequest) => search(req.query.q ?? {}));
  router.add('PUT', '/api/v0/search/asks', (req: SimRequest) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    return search(body.q ?? {});
  });
}
