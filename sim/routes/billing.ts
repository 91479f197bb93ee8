import { SimHttpError } from '../http-error.js';
import { ok, type SimRequest } from '../http-router.js';
import type { ChargeBucket } from '../billing-ledger.js';
import type { RouteContext } from './context.js';

const DESCRIPTIONS: Record<ChargeBucket['kind'], string> = { gpu: 'GPU time', disk: 'Storage', bwu: 'Bandwidth up', bwd: 'Bandwidth down' };
const UNITS: Record<ChargeBucket['kind'], string> = { gpu: 'hours', disk: 'GB-hours', bwu: 'GB', bwd: 'GB' };

function range(filter: unknown, key: string, required: boolean, fallback: [number, number]): [number, number] {
  const f = (filter ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const r = f[key];
  if (!r) {
    if (required) throw new SimHttpError(400, 'invalid_request', `select_filters.${key} with gte and lte is required.`);
    return fallback;
  }
  return [Number(r.gte ?? fallback[0]), Number(r.lte ?? fallback[1])];
}

function page<T>(items: T[], limitRaw: unknown, tokenRaw: unknown): { items: T[]; next: string | null } {
  const limit = Math.min(100, Math.max(1, Number(limitRaw ?? 20) || 20));
  const offset = tokenRaw ? Number(Buffer.from(String(tokenRaw), 'base64url').toString('utf8')) || 0 : 0;
  const slice = items.slice(offset, offset + limit);
  return { items: slice, next: offset + limit < items.length ? Buffer.from(String(offset + limit)).toString('base64url') : null };
}

const round = (v: number): number => Math.round(v * 1e6) / 1e6;

export function registerBillingRoutes(ctx: RouteContext): void {
  const { router, world } = ctx;

  // vast.py show invoices (5300-5308, "(DEPRECATED)" v0): rows with quantity/rate; `current` totals.
  router.add('GET', '/api/v0/users/me/invoices', (req: SimRequest) => {
    const now = world.now();
    const from = Number(req.query.sdate ?? now - 86400);
    const to = Number(req.query.edate ?? now);
    const incCharges = req.query.inc_charges !== false && req.query.inc_charges !== 'false';
    const invoices: Record<string, unknown>[] = world.ledger.payments
      .filter((p) => p.when >= from && p.when <= to)
      .map((p) => ({
        id: p.id,
        description: p.description,
        quantity: 1,
        rate: p.amount,
        amount: p.amount,
        timestamp: p.when,
        type: 'payment',
        instance_id: null,
        service: p.service,
      }));
    if (incCharges) {
      for (const b of world.ledger.chargesBetween(from, to)) {
        invoices.push({
          id: `${b.instanceId}-${b.kind}-${b.day}`,
          description: `Instance ${b.instanceId} ${DESCRIPTIONS[b.kind]}: ${b.quantity.toFixed(4)} ${UNITS[b.kind]}`,
          quantity: round(b.quantity),
          rate: b.rate,
          amount: round(b.amount),
          timestamp: b.lastAt,
          type: 'charge',
          instance_id: b.instanceId,
          kind: b.kind,
        });
      }
    }
    const charges = world.ledger.chargesBetween(from, to).reduce((s, b) => s + b.amount, 0);
    return ok({ invoices, current: { charges: round(charges), service_fee: 0, total: round(charges), credit: round(world.account.credit) } });
  });

  router.add('GET', '/api/v1/invoices', (req: SimRequest) => {
    const now = world.now();
    const [from, to] = range(req.query.select_filters, 'when', false, [now - 7 * 86400, now]);
    const services = (req.query.select_filters as Record<string, { in?: string[] }> | undefined)?.service?.in ?? null;
    let rows = world.ledger.payments.filter((p) => p.when >= from && p.when <= to && (!services || services.includes(p.service)));
    rows = [...rows].sort((a, b) => (req.query.latest_first === true ? b.when - a.when : a.when - b.when));
    const p = page(rows, req.query.limit, req.query.after_token);
    // DOC show_invoices.yaml: rows `{start, end, type, source, description, amount (negative for
    // credits), metadata {invoice_id, service}, items}`, the shape vast.py's `show invoices-v1`
    // formats (vast.py 5547-5570, 5654-5660); `count` is the rows in this page.
    const results = p.items.map((r) => ({
      start: r.when,
      end: r.when,
      type: 'credit',
      source: r.service.replace(/_payments$/, ''),
      description: r.description,
      amount: -r.amount,
      metadata: { invoice_id: r.id, service: r.service },
      items: [],
    }));
    return ok({ success: true, count: results.length, total: rows.length, next_token: p.next, results });
  });

  // DOC show_charges.yaml:85-160. The sim groups per instance per UTC day (the docs: per contract).
  router.add('GET', '/api/v0/charges', (req: SimRequest) => {
    const [from, to] = range(req.query.select_filters, 'day', true, [0, 0]);
    const types = (req.query.select_filters as Record<string, { in?: string[] }> | undefined)?.type?.in ?? null;
    if (types && !types.includes('instance')) return ok({ success: true, count: 0, total: 0, next_token: null, results: [] });
    const groups = new Map<string, ChargeBucket[]>();
    for (const b of world.ledger.chargesBetween(from, to)) {
      const key = `${b.instanceId}:${b.day}`;
      groups.set(key, [...(groups.get(key) ?? []), b]);
    }
    let results = [...groups.values()].map((bs) => {
      const first = bs[0]!;
      const inst = world.instances.get(first.instanceId);
      return {
        start: Math.min(...bs.map((b) => b.firstAt)),
        end: Math.max(...bs.map((b) => b.lastAt)),
        type: 'instance',
        source: `instance-${first.instanceId}`,
        description: `Instance ${first.instanceId}${inst?.label ? ` (${inst.label})` : ''}`,
        amount: round(bs.reduce((s, b) => s + b.amount, 0)),
        metadata: { instance_id: first.instanceId, gpu_name: inst?.ask.machine.gpu.name ?? null, num_gpus: inst?.numGpus ?? null },
        items: bs.map((b) => ({
          start: b.firstAt,
          end: b.lastAt,
          type: b.kind,
          source: `instance-${b.instanceId}`,
          description: DESCRIPTIONS[b.kind],
          amount: round(b.amount),
          quantity: round(b.quantity),
          rate: b.rate,
          metadata: {},
        })),
      };
    });
    results = results.sort((a, b) => (req.query.latest_first === true ? b.start - a.start : a.start - b.start));
    const p = page(results, req.query.limit, req.query.after_token);
    // DOC show_charges.yaml:85-160: `count` = rows in this page, `total` = rows in all pages.
    return ok({ success: true, count: p.items.length, total: results.length, next_token: p.next, results: p.items });
  });
}
