import { existsSync } from 'node:fs';
import { insideRoot } from '../copy/local-paths.js';
import type { ServerDeps } from '../deps.js';
import { InputError } from '../errors.js';
import { findProfile, withProfile } from '../profiles/apply-profile.js';
import { quoteOffer, resolveRequest, type QuoteLine, type Resolved } from '../vast/create-plan.js';
import { round2, round4 } from '../vast/pricing.js';
import { selectOffers } from '../vast/offer-selection.js';
import type { JobSpec } from './job-spec.js';
import { pinS3Inputs, type S3InputPin } from './s3-inputs.js';

/** The create-request view of a job spec (filters from the profile and the spec). */
export function jobResolved(deps: ServerDeps, spec: JobSpec): Resolved {
  const profile = findProfile(deps.profiles, spec.profile);
  const filters = withProfile(
    { query: spec.query, gpu_name: spec.gpu_name, num_gpus: spec.num_gpus, max_dph: spec.max_dph, min_reliability: spec.min_reliability },
    profile,
  );
  return resolveRequest(
    {
      filters,
      image: spec.image,
      disk_gb: spec.disk_gb,
      count: 1,
      interruptible: spec.interruptible,
      bid_multiplier: spec.bid_multiplier,
      hours: spec.max_hours,
    },
    deps.config.bidMultiplier,
  );
}

export interface JobQuote {
  offer: QuoteLine;
  total_per_hour: number;
  /** max_hours at the quoted rate (disk included; bandwidth extra). */
  projected_total: number;
  /** Hours the cap buys at the quoted rate. */
  hours_within_cap: number;
  notes: string[];
  /** Per input: the S3 version seen now (stored with the job), null for a local input. */
  pins: (S3InputPin | null)[];
}

/** Prices the job on today's cheapest matching offer; checks local inputs and pins S3 ones before anything is rented. */
export async function quoteJob(deps: ServerDeps, spec: JobSpec): Promise<JobQuote> {
  for (const i of spec.inputs) {
    if (i.local_path !== undefined && !existsSync(insideRoot(deps.config.copyRoot, i.local_path, 'inputs.local_path')))
      throw new InputError(`input ${i.local_path} does not exist under the copy root ${deps.config.copyRoot}.`);
  }
  if (spec.output_dir !== undefined) insideRoot(deps.config.copyRoot, spec.output_dir, 'output_dir');
  // Read once, with this server's credentials, before any offer is looked at: a missing input rents nothing.
  const pins = await pinS3Inputs(deps, spec);
  const r = jobResolved(deps, spec);
  const sel = await selectOffers(deps.vast, { ...r.filters, disk_gb: r.disk_gb, interruptible: r.interruptible }, 1, false);
  const offer = sel.chosen[0];
  if (!offer) throw new InputError("No offer matches the job's filter right now. Loosen it (GPU, price, reliability) and submit again.");
  const q = quoteOffer(offer, r);
  const notes: string[] = [];
  const projected = round2(q.total_per_hour * spec.max_hours);
  if (projected > spec.max_cost_usd)
    notes.push(
      `At this price the cap buys about ${round2(spec.max_cost_usd / q.total_per_hour)} h, less than max_hours ${spec.max_hours}: the job stops at the cap (budget_exhausted) after a final checkpoint.`,
    );
  if (spec.interruptible)
    notes.push(
      'Interruptible: the instance can be outbid and paused at any time; the job then resumes on another machine from its last verified checkpoint (up to max_recoveries times).',
    );
  return {
    offer: q,
    total_per_hour: round4(q.total_per_hour),
    projected_total: projected,
    hours_within_cap: round2(spec.max_cost_usd / Math.max(q.total_per_hour, 1e-9)),
    notes,
    pins,
  };
}
