import type { OfferRow, OfferType } from './offer-rows.js';

/** The query object of `POST /bundles/`: field → {op: value}, plus order/type/limit/allocated_storage. */
export interface ParsedSearch {
  filters: { field: string; op: string; value: unknown }[];
  order: [string, 'asc' | 'desc'][];
  type: OfferType;
  limit: number;
  allocatedStorageGb: number;
}

export class QueryError extends Error {}

const OPS = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'notin', 'nin']);
const TOP_LEVEL = new Set(['order', 'type', 'limit', 'allocated_storage', 'disable_bundling', 'show_incompatible', 'sort_option', 'extra_ids']);
/** Query names that are stored under another column. */
const COLUMN_ALIAS: Record<string, string> = {
  driver_version: 'driver_vers',
  cuda_vers: 'cuda_max_good',
  dph: 'dph_total',
  dlperf_usd: 'dlperf_per_dphtotal',
  flops_usd: 'flops_per_dphtotal',
  display_active: 'gpu_display_active',
};
export const DEFAULT_LIMIT = 64;
export const MAX_LIMIT = 5000;

/** Keys that reach Object.prototype through a plain lookup: refused, as a JSON body can carry them. */
function refusePrototypeKey(name: string): void {
  if (name === '__proto__' || name === 'prototype' || name in Object.prototype) throw new QueryError(`Invalid field name ${JSON.stringify(name)}`);
}

/** The row's own column only, never an inherited member. */
function column(row: OfferRow, field: string): unknown {
  const name = Object.hasOwn(COLUMN_ALIAS, field) ? COLUMN_ALIAS[field]! : field;
  return Object.hasOwn(row, name) ? (row as unknown as Record<string, unknown>)[name] : undefined;
}

/**
 * Query fields the API knows (DOC search_offers.yaml request body; vast.py's field list in
 * ../shared/references/vast-api-facts.md §1). `rented` is known but not a server-side filter: "The
 * server drops this key" (search_offers.yaml); the CLI filters rows on it after the answer.
 */
const KNOWN_FIELDS = new Set(
  (
    'bw_nvlink compute_cap cpu_arch cpu_cores cpu_cores_effective cpu_ghz cpu_ram cuda_max_good datacenter direct_port_count ' +
    'driver_version disk_bw disk_space dlperf dlperf_per_dphtotal dph_total duration external flops_per_dphtotal gpu_arch ' +
    'gpu_display_active gpu_frac gpu_mem_bw gpu_name gpu_ram gpu_total_ram gpu_max_power gpu_max_temp has_avx host_id id ' +
    'inet_down inet_down_cost inet_up inet_up_cost machine_id min_bid mobo_name num_gpus pci_gen pcie_bw reliability rentable ' +
    'rented storage_cost static_ip total_flops ubuntu_version os_version verification verified vms_enabled geolocation ' +
    'cluster_id has_sla expected_reliability target_reliability'
  ).split(' '),
);
const DROPPED = new Set(['rented', 'target_reliability']);

/**
 * `unknown`: what an unknown field does. The audit (§3) counts "silently ignored" among the comforts
 * the real service does not give, so the default refuses it with the documented 400 for a bad query
 * (`invalid_request`, search_offers.yaml); 'ignore' is the other reading, for testing the client.
 */
export function parseSearchBody(body: unknown, unknown: 'reject' | 'ignore' = 'ignore'): ParsedSearch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new QueryError('Invalid json body');
  const q = body as Record<string, unknown>;
  const filters: ParsedSearch['filters'] = [];
  for (const [field, spec] of Object.entries(q)) {
    refusePrototypeKey(field);
    if (TOP_LEVEL.has(field)) continue;
    const known = KNOWN_FIELDS.has(field) || Object.hasOwn(COLUMN_ALIAS, field);
    if (!known && unknown === 'reject') throw new QueryError(`Unknown search field ${JSON.stringify(field.slice(0, 64))}`);
    if (DROPPED.has(field)) continue;
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw new QueryError(`Invalid filter for ${field}: expected an object like {"eq": value}`);
    }
    for (const [op, value] of Object.entries(spec as Record<string, unknown>)) {
      refusePrototypeKey(op);
      if (!OPS.has(op)) throw new QueryError(`Unknown operator ${op} for field ${field}`);
      filters.push({ field, op: op === 'nin' ? 'notin' : op, value });
    }
  }
  return {
    filters,
    order: parseOrder(q.order),
    type: parseType(q.type),
    limit: parseLimit(q.limit),
    allocatedStorageGb: parseStorage(q.allocated_storage),
  };
}

function parseOrder(order: unknown): ParsedSearch['order'] {
  if (order === undefined || order === null) return [['score', 'desc']];
  if (!Array.isArray(order)) throw new QueryError('order must be a list of [field, "asc"|"desc"] pairs');
  return order.map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new QueryError('order must be a list of [field, "asc"|"desc"] pairs');
    refusePrototypeKey(entry[0]);
    return [entry[0], entry[1] === 'desc' ? 'desc' : 'asc'];
  });
}

function parseType(type: unknown): OfferType {
  if (type === undefined || type === null || type === 'on-demand' || type === 'ondemand') return 'on-demand';
  if (type === 'bid' || type === 'interruptible') return 'bid';
  if (type === 'reserved') return 'reserved';
  throw new QueryError(`Invalid type ${JSON.stringify(type)}: expected on-demand, bid or reserved`);
}

function parseLimit(limit: unknown): number {
  if (limit === undefined || limit === null) return DEFAULT_LIMIT;
  const n = Number(limit);
  if (!Number.isFinite(n) || n < 1) throw new QueryError('limit must be a positive integer');
  return Math.min(Math.floor(n), MAX_LIMIT);
}

function parseStorage(v: unknown): number {
  if (v === undefined || v === null) return 5;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new QueryError('allocated_storage must be a non-negative number of GB');
  return n;
}

/** Coerces a query value to the type of the row's value, as the API does with numeric strings. */
function coerce(sample: unknown, value: unknown): unknown {
  if (typeof sample === 'number' && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (typeof sample === 'boolean' && typeof value === 'string') {
    if (/^(true|1)$/i.test(value)) return true;
    if (/^(false|0)$/i.test(value)) return false;
  }
  if (typeof sample === 'boolean' && typeof value === 'number') return value !== 0;
  return value;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}

function valueFor(row: OfferRow, field: string, wanted: unknown): unknown {
  const v = column(row, field);
  // geolocation is stored as "City, CC"; queries use the two-letter country code.
  if (field === 'geolocation' && typeof v === 'string') {
    const cc = v.split(',').pop()?.trim() ?? v;
    const w = Array.isArray(wanted) ? wanted[0] : wanted;
    if (typeof w === 'string' && w.length === 2) return cc;
  }
  if (field === 'driver_version' && typeof wanted === 'string' && wanted.includes('.')) return row.driver_version;
  return v;
}

function matches(row: OfferRow, f: ParsedSearch['filters'][number]): boolean {
  const name = Object.hasOwn(COLUMN_ALIAS, f.field) ? COLUMN_ALIAS[f.field]! : f.field;
  if (!Object.hasOwn(row, name)) return true; // unknown fields are ignored, as the API does
  const actual = valueFor(row, f.field, f.value);
  if (f.op === 'in' || f.op === 'notin') {
    const list = Array.isArray(f.value) ? f.value : [f.value];
    const hit = list.some((x) => coerce(actual, x) === actual);
    return f.op === 'in' ? hit : !hit;
  }
  const wanted = coerce(actual, f.value);
  if (wanted === null || actual === null || actual === undefined) {
    if (f.op === 'eq') return actual === wanted || (actual === undefined && wanted === null);
    if (f.op === 'neq') return actual !== wanted;
    return false;
  }
  const c = compare(actual, wanted);
  switch (f.op) {
    case 'eq':
      return c === 0 && typeof actual === typeof wanted;
    case 'neq':
      return !(c === 0 && typeof actual === typeof wanted);
    case 'gt':
      return c > 0;
    case 'gte':
      return c >= 0;
    case 'lt':
      return c < 0;
    case 'lte':
      return c <= 0;
    default:
      return false;
  }
}

export function filterAndSort(rows: OfferRow[], search: ParsedSearch): OfferRow[] {
  const kept = rows.filter((row) => search.filters.every((f) => matches(row, f)));
  kept.sort((a, b) => {
    for (const [field, dir] of search.order) {
      const x = column(a, field);
      const y = column(b, field);
      if (x === y) continue;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const c = compare(x, y);
      if (c !== 0) return dir === 'desc' ? -c : c;
    }
    return a.id - b.id;
  });
  return kept.slice(0, search.limit);
}
