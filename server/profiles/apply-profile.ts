import { InputError } from '../errors.js';
import type { OfferFilters } from '../vast/offer-search.js';
import type { Profile, ProfilesFile } from './profile-config.js';

export function findProfile(file: ProfilesFile, name: string | undefined): Profile | undefined {
  if (name === undefined) return undefined;
  const p = file.profiles[name];
  if (!p)
    throw new InputError(`Unknown profile "${name}". Available: ${Object.keys(file.profiles).join(', ') || 'none'} (see the profiles resource).`);
  return p;
}

/** The profile's limits as offer filters, unless the caller set that filter explicitly. */
export function withProfile<F extends OfferFilters>(filters: F, profile: Profile | undefined): F {
  if (!profile) return filters;
  return {
    ...filters,
    gpu_name: filters.gpu_name ?? profile.gpu_name,
    num_gpus: filters.num_gpus ?? profile.num_gpus,
    max_dph: Math.min(filters.max_dph ?? profile.max_dph, profile.max_dph),
    min_reliability: Math.max(filters.min_reliability ?? profile.min_reliability, profile.min_reliability),
  };
}
