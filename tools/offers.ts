import { z } from 'zod';
import { buildOfferSearch, longEnough, summarizeOffer } from '../server/vast/offer-search.js';
import { defineTool } from './define-tool.js';
import { findProfile, withProfile } from '../server/profiles/apply-profile.js';

const ProjectionSchema = z.object({
  gpu_per_hour: z.number().describe('USD/hour for the GPUs'),
  disk_per_hour: z.number().describe('USD/hour for the disk (storage_cost × GB / 720)'),
  total_per_hour: z.number().describe('USD/hour total'),
  hours: z.number(),
  projected_total: z.number().describe('USD for `hours` hours including disk; bandwidth not included'),
});

export const OfferSummarySchema = z.object({
  id: z.number().describe('Offer (ask) id to pass to create'),
  machine_id: z.number(),
  gpu_name: z.string(),
  num_gpus: z.number(),
  gpu_ram_gb: z.number().nullable().describe('VRAM per GPU, GB'),
  dph_total: z.number().describe('USD/hour including the disk priced in'),
  min_bid: z.number().nullable().describe('USD/hour minimum interruptible bid'),
  storage_cost_per_gb_month: z.number().nullable(),
  bandwidth_up_per_gb: z.number().nullable().describe('USD/GB'),
  bandwidth_down_per_gb: z.number().nullable().describe('USD/GB'),
  reliability: z.number().nullable(),
  location: z.string().nullable(),
  direct_ports: z.number(),
  dlperf_per_dollar: z.number().nullable(),
  verified: z.boolean(),
  interruptible: z.boolean(),
  max_hours: z.number().nullable().describe('Longest rental this offer allows, hours: the platform stops the instance at the end'),
  cuda_max_good: z.number().nullable(),
  projection: ProjectionSchema,
});

const input = z
  .object({
    query: z
      .string()
      .max(2000)
      .optional()
      .describe(
        'Official Vast query language, e.g. "gpu_name=RTX_4090 num_gpus>=2 reliability>0.98 geolocation in [US,CA]". GB for gpu_ram/cpu_ram, days for duration.',
      ),
    gpu_name: z.string().min(2).max(64).optional().describe('Exact GPU model, e.g. "RTX 4090", "H100 SXM", "A100 SXM4"'),
    num_gpus: z.number().int().min(1).max(16).optional().describe('Exact number of GPUs'),
    min_gpu_ram_gb: z.number().positive().max(1024).optional().describe('Minimum VRAM per GPU, GB'),
    max_dph: z.number().positive().max(1000).optional().describe('Maximum total price, USD/hour (disk included)'),
    min_reliability: z.number().min(0).max(1).optional().describe('Minimum host reliability, 0–1'),
    geolocation: z
      .array(z.string().regex(/^[A-Za-z]{2}$/, 'two-letter country code'))
      .max(50)
      .optional()
      .describe('Allowed countries, two-letter codes, e.g. ["US","CA"]'),
    verified_only: z.boolean().optional().describe('Only verified hosts (default true)'),
    min_direct_ports: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('Minimum direct ports (direct SSH needs ≥ 1; bulk copies are much faster direct)'),
    interruptible: z
      .boolean()
      .optional()
      .describe('Interruptible (bid) pricing instead of on-demand (default false). Interruptible instances can be paused without warning.'),
    disk_gb: z.number().min(8).max(100000).optional().describe('Disk to price in, GB (default 64)'),
    hours: z.number().positive().max(10000).optional().describe('Hours for the projected cost (default 24)'),
    sort: z
      .enum(['price', 'value', 'reliability', 'performance'])
      .optional()
      .describe('price = cheapest first (default); value = most DLPerf per $; reliability; performance = most DLPerf'),
    limit: z.number().int().min(1).max(50).optional().describe('How many offers to return (default 10, max 50)'),
    profile: z
      .string()
      .max(64)
      .optional()
      .describe('A GPU profile from the profiles resource (e.g. "dev-test"): its GPU, count, price cap and reliability become filters'),
  })
  .strict();

const output = z.object({
  offers: z.array(OfferSummarySchema),
  count: z.number(),
  disk_gb: z.number(),
  hours: z.number(),
  defaults_applied: z.array(z.string()),
  warnings: z.array(z.string()),
  query_sent: z.record(z.string(), z.unknown()).describe('The query object sent to POST /api/v0/bundles/'),
});

export const offersTool = defineTool({
  name: 'offers',
  title: 'Search GPU offers',
  description:
    'Search the Vast.ai marketplace for GPU offers. Read-only and free. Filter with structured fields and/or the official query language; ' +
    'each offer comes with its full price (GPU $/h, disk $/GB/month, bandwidth $/GB up/down) and a projected cost for `hours` hours including `disk_gb` of disk. ' +
    'Defaults that were applied are listed in defaults_applied. Use an offer id with create.',
  access: 'read',
  input,
  output,
  async run(args, { deps }) {
    const profile = findProfile(deps.profiles, args.profile);
    const search = buildOfferSearch({ ...withProfile(args, profile), hours: args.hours ?? profile?.max_hours });
    if (profile)
      search.defaultsApplied.unshift(
        `profile ${args.profile}: ${profile.num_gpus}x ${profile.gpu_name}, ≤ $${profile.max_dph}/h, reliability ≥ ${profile.min_reliability}, ${profile.max_hours} h max`,
      );
    deps.session.lastOfferSearch = { interruptible: Boolean(args.interruptible) || /type=bid|interruptible/.test(args.query ?? '') };
    const found = await deps.vast.searchOffers(search.body);
    const { kept: offers, excluded } = longEnough(found, search.hours);
    if (excluded) search.warnings.push(`${excluded} offer(s) excluded: their maximum rental is shorter than ${search.hours} h.`);
    search.defaultsApplied.push(`duration>=${search.hours}h (offers whose rental ends sooner are excluded)`);
    const rows = offers.map((o) => summarizeOffer(o, search.diskGb, search.hours));
    const lines = rows.map(
      (o) =>
        `#${o.id}  ${o.num_gpus}x ${o.gpu_name} ${o.gpu_ram_gb ?? '?'}GB  $${o.dph_total.toFixed(4)}/h  ` +
        `rel ${o.reliability?.toFixed(3) ?? '?'}  ${o.location ?? '?'}  direct ports ${o.direct_ports}  ${search.hours}h ≈ $${o.projection.projected_total.toFixed(2)}`,
    );
    const text = rows.length
      ? `${rows.length} offer(s), ${search.diskGb} GB disk priced in:\n${lines.join('\n')}\nDefaults: ${search.defaultsApplied.join('; ')}`
      : `No offers match. Loosen the filters (price, reliability, region) or drop a default (e.g. query "verified=any"). Defaults: ${search.defaultsApplied.join('; ')}`;
    return {
      data: {
        offers: rows,
        count: rows.length,
        disk_gb: search.diskGb,
        hours: search.hours,
        defaults_applied: search.defaultsApplied,
        warnings: search.warnings,
        query_sent: search.body,
      },
      text: search.warnings.length ? `${text}\nWarnings: ${search.warnings.join(' ')}` : text,
    };
  },
});
