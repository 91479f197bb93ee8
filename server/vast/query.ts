import { InputError } from '../errors.js';

/**
 * The official CLI's offer query language (`gpu_name=RTX_4090 num_gpus>=2 geolocation in [US,CA]`),
 * turned into the API's query object exactly as `vastai search offers` builds it.
 */
export type QueryValue = string | number | boolean | null | string[];
export type QueryObject = Record<string, Record<string, QueryValue>>;

export const OFFER_FIELDS = new Set([
  'bw_nvlink',
  'compute_cap',
  'cpu_arch',
  'cpu_cores',
  'cpu_cores_effective',
  'cpu_ghz',
  'cpu_ram',
  'cuda_max_good',
  'datacenter',
  'direct_port_count',
  'driver_version',
  'disk_bw',
  'disk_space',
  'dlperf',
  'dlperf_per_dphtotal',
  'dph_total',
  'duration',
  'external',
  'flops_per_dphtotal',
  'gpu_arch',
  'gpu_display_active',
  'gpu_frac',
  'gpu_mem_bw',
  'gpu_name',
  'gpu_ram',
  'gpu_total_ram',
  'gpu_max_power',
  'gpu_max_temp',
  'has_avx',
  'host_id',
  'id',
  'inet_down',
  'inet_down_cost',
  'inet_up',
  'inet_up_cost',
  'machine_id',
  'min_bid',
  'mobo_name',
  'num_gpus',
  'pci_gen',
  'pcie_bw',
  'reliability',
  'rentable',
  'rented',
  'storage_cost',
  'static_ip',
  'total_flops',
  'ubuntu_version',
  'verification',
  'verified',
  'vms_enabled',
  'geolocation',
  'cluster_id',
]);

export const OFFER_ALIASES: Record<string, string> = {
  cuda_vers: 'cuda_max_good',
  display_active: 'gpu_display_active',
  dlperf_usd: 'dlperf_per_dphtotal',
  dph: 'dph_total',
  flops_usd: 'flops_per_dphtotal',
};

/** Entered in GB (or days) and sent in MB (or seconds). Note ×1000, not ×1024, as the CLI does. */
export const OFFER_MULTIPLIERS: Record<string, number> = { cpu_ram: 1000, gpu_ram: 1000, gpu_total_ram: 1000, duration: 86400 };

const OPERATORS: Record<string, string> = {
  '>=': 'gte',
  '>': 'gt',
  gt: 'gt',
  gte: 'gte',
  '<=': 'lte',
  '<': 'lt',
  lt: 'lt',
  lte: 'lte',
  '!=': 'neq',
  '==': 'eq',
  '=': 'eq',
  eq: 'eq',
  neq: 'neq',
  noteq: 'neq',
  'not eq': 'neq',
  notin: 'notin',
  'not in': 'notin',
  nin: 'notin',
  in: 'in',
};

/** Names that reach Object.prototype through a plain lookup (`__proto__`, `constructor`, `toString`…). */
export function isPrototypeKey(name: string): boolean {
  return name === '__proto__' || name === 'prototype' || name in Object.prototype;
}

/** An own property only: a lookup table never answers with something inherited. */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function refusePrototypeKey(name: string, where: string): void {
  if (isPrototypeKey(name))
    throw new InputError(`${JSON.stringify(name)} is not a field of an offer (${where}); use fields such as gpu_name, num_gpus, dph_total.`);
}

const TERM = /([a-zA-Z0-9_]+)( *[=><!]+| +(?:[lg]te?|nin|neq|eq|not ?eq|not ?in|in) )?( *)(\[[^\]]+\]|"[^"]+"|[^ ]+)?( *)/g;

/** `535.86.05` → 535086005: each part zero-padded to three digits. */
export function packVersion(version: string): number {
  const parts = version.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p)))
    throw new InputError(`driver_version ${JSON.stringify(version)} must look like 535.86.05`);
  return Number(parts.map((p) => p.padStart(3, '0')).join(''));
}

function trimChars(text: string, chars: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && chars.includes(text[a]!)) a++;
  while (b > a && chars.includes(text[b - 1]!)) b--;
  return text.slice(a, b);
}

function convertScalar(value: string): string | boolean | null {
  if (value === 'true' || value === 'True') return true;
  if (value === 'false' || value === 'False') return false;
  if (value === 'None' || value === 'null') return null;
  return value;
}

export interface ParseResult {
  query: QueryObject;
  warnings: string[];
}

/** Parses query text into `base` (which it extends and returns), collecting unknown-field warnings. */
export function parseQuery(text: string, base: QueryObject = {}): ParseResult {
  const query = base;
  const warnings: string[] = [];
  const source = text.trim();
  if (!source) return { query, warnings };
  const terms = [...source.matchAll(TERM)];
  const consumed = terms.map((m) => m[0]).join('');
  if (consumed !== source) {
    throw new InputError(
      `Could not parse the offer query ${JSON.stringify(source)}: use terms like gpu_name=RTX_4090 num_gpus>=2 "geolocation in [US,CA]", separated by spaces.`,
    );
  }
  for (const m of terms) {
    let field = m[1]!;
    refusePrototypeKey(field, 'in the query');
    const rawOp = (m[2] ?? '').trim();
    let raw = trimChars(m[4] ?? '', ',[]');
    const op = own(OPERATORS, rawOp);
    // The CLI creates the entry under the typed name, then moves it to the alias target.
    const spec: Record<string, QueryValue> = own(query, field) ?? {};
    query[field] = spec;
    const alias = own(OFFER_ALIASES, field);
    if (alias !== undefined) {
      delete query[field];
      field = alias;
    }
    let value: QueryValue = raw;
    if (field === 'driver_version' && raw.includes('.')) value = packVersion(raw);
    if (!OFFER_FIELDS.has(field)) warnings.push(`Unrecognized field ${field}; it is sent as is and the API may ignore it.`);
    if (!op) throw new InputError(`Unknown operator ${JSON.stringify(rawOp)} after ${field}: use one of = != > >= < <= in notin.`);
    if (op === 'in' || op === 'notin') {
      value = raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (value.length === 0) throw new InputError(`The list after "${field} ${rawOp}" is empty: write it like [US,CA].`);
    }
    if (value === '') throw new InputError(`No value after "${field}${rawOp}": write e.g. ${field}${rawOp}1.`);
    if (typeof value === 'string' && ['?', '*', 'any'].includes(value)) {
      if (op !== 'eq') throw new InputError(`The wildcard in "${field}${rawOp}${value}" only works with =: write ${field}=any.`);
      delete query[field];
      continue;
    }
    if (typeof value === 'string') {
      raw = trimChars(value.replace(/_/g, ' '), '"');
      value = raw;
    } else if (Array.isArray(value)) {
      value = value.map((x) => trimChars(x.replace(/_/g, ' '), '"'));
    }
    const mult = own(OFFER_MULTIPLIERS, field);
    if (mult !== undefined) {
      const n = typeof value === 'number' ? value : Number(value);
      if (Array.isArray(value) || !Number.isFinite(n))
        throw new InputError(
          `${field} needs a single number (in GB${field === 'duration' ? ' — days for duration' : ''}), got ${JSON.stringify(value)}.`,
        );
      spec[op] = n * mult;
    } else {
      spec[op] = typeof value === 'string' ? convertScalar(value) : value;
    }
    query[field] = { ...(own(query, field) ?? {}), ...spec };
  }
  return { query, warnings };
}

/** `-o` ordering: comma-separated fields, trailing or leading `-` descending, `+` ascending. */
export function parseOrder(order: string): [string, 'asc' | 'desc'][] {
  const out: [string, 'asc' | 'desc'][] = [];
  for (const part of order.split(',')) {
    const name = part.trim();
    if (!name) continue;
    let dir: 'asc' | 'desc' = 'asc';
    let field = name;
    if (trimChars(name, '-') !== name) {
      dir = 'desc';
      field = trimChars(name, '-');
    }
    if (trimChars(name, '+') !== name) {
      dir = 'asc';
      field = trimChars(name, '+');
    }
    refusePrototypeKey(field, 'in the order');
    out.push([own(OFFER_ALIASES, field) ?? field, dir]);
  }
  return out;
}

export type OfferType = 'on-demand' | 'bid' | 'reserved' | 'interruptible';

export interface SearchOptions {
  query?: string;
  order?: string;
  type?: OfferType;
  limit?: number;
  storageGb?: number;
  noDefault?: boolean;
  /** `vast.py` adds `rented=false` to the defaults; the newer `vastai` package does not. */
  flavor?: 'vast.py' | 'vastai';
}

export function defaultFilters(flavor: SearchOptions['flavor'] = 'vast.py'): QueryObject {
  const base: QueryObject = { verified: { eq: true }, external: { eq: false }, rentable: { eq: true } };
  if (flavor === 'vast.py') base.rented = { eq: false };
  return base;
}

/** The body of `POST /api/v0/bundles/` for a search, as the CLI sends it. */
export function buildSearchBody(opts: SearchOptions): { body: Record<string, unknown>; warnings: string[] } {
  const base = opts.noDefault ? {} : defaultFilters(opts.flavor);
  const { query, warnings } = parseQuery(opts.query ?? '', base);
  const body: Record<string, unknown> = { ...query };
  body.order = parseOrder(opts.order ?? 'score-');
  body.type = opts.type === 'interruptible' ? 'bid' : (opts.type ?? 'on-demand');
  if (opts.limit) body.limit = Math.trunc(opts.limit);
  body.allocated_storage = opts.storageGb ?? 5.0;
  return { body, warnings };
}

/** `search offers --new` sends the same query to `PUT /api/v0/search/asks/`, wrapped. */
export function wrapForAsksSearch(body: Record<string, unknown>): { select_cols: string[]; q: Record<string, unknown> } {
  return { select_cols: ['*'], q: body };
}
