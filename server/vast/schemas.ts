import { z } from 'zod';

/**
 * Shapes of the Vast API answers we rely on. Objects strip unknown keys, so a field we never read
 * (such as the `api_key` that `/users/current` echoes) cannot travel further into the server.
 */
/**
 * Lenient field parsing. The sources disagree on several types (OpenAPI vs vast.py vs dstack), and
 * one odd field must not take down every tool that lists instances:
 * - numeric strings become numbers (`"22"` → 22);
 * - strings are trimmed, as vast.py's `strip_strings` (vast.py 277-284, 5768) and dstack
 *   (`public_ipaddr.strip()`) do;
 * - in lenient mode a field that still does not fit becomes null (the caller logs a warning).
 */
function toNum(v: unknown): unknown {
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}
function toStr(v: unknown): unknown {
  return typeof v === 'string' ? v.trim() : v;
}
function toBool(v: unknown): unknown {
  if (v === 0 || v === 1) return Boolean(v);
  if (v === 'true' || v === 'false') return v === 'true';
  return v;
}

type Mode = 'strict' | 'lenient';
const numOf = (m: Mode) => {
  const s = z.preprocess(toNum, z.number().nullable().optional());
  return m === 'lenient' ? s.catch(null) : s;
};
const strOf = (m: Mode) => {
  const s = z.preprocess(toStr, z.string().nullable().optional());
  return m === 'lenient' ? s.catch(null) : s;
};
const boolOf = (m: Mode) => {
  const s = z.preprocess(toBool, z.boolean().nullable().optional());
  return m === 'lenient' ? s.catch(null) : s;
};
const idOf = () => z.preprocess(toNum, z.number().int());

const num = numOf('strict');
const str = strOf('strict');

function offerShape(m: Mode) {
  const num = numOf(m);
  const str = strOf(m);
  const bool = boolOf(m);
  return z.object({
    id: idOf(),
    machine_id: idOf(),
    host_id: num,
    num_gpus: z.preprocess(toNum, z.number()),
    gpu_name: z.preprocess(toStr, z.string()),
    gpu_ram: num,
    gpu_total_ram: num,
    dph_base: num,
    dph_total: z.preprocess(toNum, z.number()),
    min_bid: num,
    storage_cost: num,
    inet_up_cost: num,
    inet_down_cost: num,
    inet_up: num,
    inet_down: num,
    reliability: num,
    reliability2: num,
    geolocation: str,
    direct_port_count: num,
    dlperf: num,
    dlperf_per_dphtotal: num,
    total_flops: num,
    verified: bool,
    verification: str,
    rentable: bool,
    rented: bool,
    is_bid: bool,
    cuda_max_good: num,
    driver_version: str,
    cpu_ram: num,
    cpu_cores_effective: num,
    disk_space: num,
    cluster_id: num,
    discounted_dph_total: num,
    /** Maximum rental length in seconds (DOC search_offers.yaml `duration`; vast.py shows it in days). */
    duration: num,
    /** Latest end of a rental on this offer, epoch seconds (DOC search_offers.yaml `end_date`). */
    end_date: num,
  });
}

/** One offer row of `POST /api/v0/bundles/` (DOC search_offers.yaml; CLI vast.py 4350-4414). */
export const OfferSchema = offerShape('strict');
export const LenientOfferSchema = offerShape('lenient');
export type Offer = z.infer<typeof OfferSchema>;

/** Rows are parsed one by one by the client (an odd row is dropped with a warning). */
export const OffersResponseSchema = z.object({ offers: z.array(z.unknown()) });

/**
 * `ports`: vast.py and dstack read a Docker-style map `{"22/tcp": [{"HostIp", "HostPort"}]}` (vast.py
 * 4875-4884); the OpenAPI example is a list of ints (show_instance.yaml). Entries can be null. Only
 * well-formed bindings are kept; a list (no host mapping known) reads as no ports.
 */
function normalizePorts(v: unknown): unknown {
  if (v === null || v === undefined || Array.isArray(v) || typeof v !== 'object') return null;
  const out: Record<string, { HostIp?: string; HostPort: string }[]> = {};
  for (const [k, list] of Object.entries(v as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    const bindings = list
      .filter((b): b is { HostIp?: unknown; HostPort?: unknown } => typeof b === 'object' && b !== null)
      .filter((b) => typeof b.HostPort === 'string' || typeof b.HostPort === 'number')
      .map((b) => ({ ...(typeof b.HostIp === 'string' ? { HostIp: b.HostIp.trim() } : {}), HostPort: String(b.HostPort).trim() }));
    if (bindings.length) out[k] = bindings;
  }
  return out;
}

/** `extra_env` pairs (vast.py 8820-8857); a null value reads as empty, malformed pairs are dropped. */
function normalizeEnv(v: unknown): unknown {
  if (!Array.isArray(v)) return null;
  return v
    .filter((p): p is unknown[] => Array.isArray(p) && typeof p[0] === 'string')
    .map((p) => [p[0] as string, p[1] === null || p[1] === undefined ? '' : String(p[1])]);
}

const PortBinding = z.array(z.object({ HostIp: z.string().optional(), HostPort: z.string() }));

function instanceShape(m: Mode) {
  const num = numOf(m);
  const str = strOf(m);
  const bool = boolOf(m);
  return z.object({
    id: idOf(),
    machine_id: num,
    actual_status: str,
    intended_status: str,
    cur_state: str,
    next_state: str,
    status_msg: str,
    label: str,
    image_uuid: str,
    image_runtype: str,
    ssh_host: str,
    ssh_port: num,
    public_ipaddr: str,
    ports: z.preprocess(normalizePorts, z.record(z.string(), PortBinding).nullable().optional()),
    start_date: num,
    /** Rental end, epoch seconds; the instance is stopped then, and may be deleted 48 h later (DOC show_instance.yaml 196-209, faq/instances.mdx:13, manage-instances.mdx:158). */
    end_date: num,
    /** Contract length in seconds (DOC show_instance.yaml); vast.py overwrites it locally (5719). */
    duration: num,
    uptime_mins: num,
    num_gpus: num,
    gpu_name: str,
    dph_base: num,
    dph_total: num,
    storage_cost: num,
    disk_space: num,
    inet_up_cost: num,
    inet_down_cost: num,
    is_bid: bool,
    min_bid: num,
    geolocation: str,
    reliability2: num,
    direct_port_count: num,
    extra_env: z.preprocess(
      normalizeEnv,
      z
        .array(z.tuple([z.string(), z.string()]))
        .nullable()
        .optional(),
    ),
    extra: z.unknown().optional(),
  });
}

/** An instance row: `GET /api/v0/instances/{id}/` and v1 list rows (DOC show_instance.yaml, show_instances.yaml; vast.py 5706-5769). */
export const InstanceSchema = instanceShape('strict');
export const LenientInstanceSchema = instanceShape('lenient');
export type Instance = z.infer<typeof InstanceSchema>;

/** v1 list (DOC show_instances.yaml): rows are parsed one by one by the client. */
export const InstancesPageSchema = z.object({
  instances: z.array(z.unknown()).nullable().optional(),
  next_token: z.string().nullable().optional(),
  total_instances: num.catch(null),
});

/** `{"instances": null}` for a missing or destroyed instance (vast.py 5706-5718). */
export const InstanceResponseSchema = z.object({ instances: z.unknown().optional() });

/**
 * `GET /api/v0/users/current`: the OpenAPI documents `balance` (show_user.yaml); vast.py prints
 * `credit` (925-955). Either may be missing: credit falls back to balance.
 */
export const UserSchema = z
  .object({
    id: idOf(),
    username: strOf('lenient'),
    email: strOf('lenient'),
    fullname: strOf('lenient'),
    credit: numOf('lenient'),
    balance: numOf('lenient'),
    /** A saved card: at $0 it is charged and instances are kept; without one they are destroyed (DOC guides/reference/billing.mdx). */
    has_billing: z.boolean().nullable().optional().catch(null),
  })
  .refine((u) => u.credit != null || u.balance != null, { message: 'neither credit nor balance is present', path: ['credit'] })
  .transform((u) => ({ ...u, credit: (u.credit ?? u.balance) as number }));
export type User = z.infer<typeof UserSchema>;

export const SuccessSchema = z.object({ success: z.boolean().optional(), msg: z.string().optional() });

export const InvoiceSchema = z.object({
  id: z.union([z.string(), z.number()]),
  description: str,
  quantity: num,
  rate: num,
  amount: z.number(),
  timestamp: z.number(),
  type: z.string(),
  instance_id: num,
});
export type Invoice = z.infer<typeof InvoiceSchema>;

export const InvoicesResponseSchema = z.object({
  invoices: z.array(InvoiceSchema),
  current: z.object({ charges: num, total: num, credit: num }).partial().optional(),
});

const ChargeItemSchema = z.object({ type: z.string(), amount: z.number(), quantity: num, rate: num, description: str });
export const ChargesResponseSchema = z.object({
  count: num,
  total: num,
  next_token: z.string().nullable().optional(),
  results: z.array(
    z.object({
      start: z.number(),
      end: z.number(),
      type: z.string(),
      source: z.string(),
      description: str,
      amount: z.number(),
      items: z.array(ChargeItemSchema).optional(),
    }),
  ),
});
export type ChargesResponse = z.infer<typeof ChargesResponseSchema>;

export const GpuNamesSchema = z.object({ gpu_names: z.array(z.string()) });
