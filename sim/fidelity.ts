/**
 * How closely the simulator follows the real platform where the sources disagree or where the old
 * simulator was kinder than Vast ("false comforts", fidelity audit section 3). Defaults are the
 * realistic (documented or observed) behaviour; each switch names the other reading so the client
 * can be tested against both.
 */
export interface FidelityOptions {
  /**
   * `GET /instances/{id}/ssh/`: `ssh_keys` as a JSON *string* (DOC show_instance_ssh_keys.yaml:38-41)
   * or as an array (older answers; the other reading).
   */
  instanceKeysShape: 'json_string' | 'array';
  /** `GET /ssh/` with no keys: 404 "No SSH keys found for the user." (DOC show_ssh_keys.yaml:55) or `[]`. */
  emptyAccountKeys: 'not_found' | 'empty_array';
  /**
   * Seconds (simulated) before a stop or a start shows in `actual_status`: the platform converges
   * asynchronously (DOC manage-instances.mdx:86-94). 0 = synchronous (the old false comfort).
   */
  stateChangeSeconds: number;
  /** Images from unresolvable registries fail to pull (vastai runtime_diagnostics.py 246-255). */
  pullFailures: boolean;
  /** A higher bid or an on-demand rental on the same GPUs interrupts a bid instance (DOC instance-types.mdx:76-78). */
  organicOutbids: boolean;
  /**
   * The outbid row: dstack's `cur_state = intended_status = next_state = stopped` (compute.py
   * 209-216), or the docs' "paused, resumes automatically" reading (intended stays running).
   */
  outbidShape: 'intended_stopped' | 'intended_running';
  /** Rentals end at the offer's max duration: stopped then, deleted 48 h later (DOC faq/instances.mdx:13, manage-instances.mdx:158). */
  rentalExpiry: boolean;
  /** Log result URLs before upload: S3's 403 + XML (DOC logs.yaml:60; vast.py 3669-3679 treats any non-200 as not ready) or 404. */
  logNotReady: 's3_403' | 'not_found';
  /** Cloud copy status shows "Cloud Copy Operation Finished" this many simulated seconds late (vast.py 1865-1866: "~30 seconds delayed"). */
  cloudCopyStatusDelaySeconds: number;
  /** Per-key rate limits as documented (DOC rate-limits-and-errors.mdx + x-rate-limit in each OpenAPI file). */
  rateLimits: boolean;
  /** An unknown field in an offer search: 400 invalid_request (default) or silently ignored (the old sim; offer-query.ts). */
  unknownSearchFields: 'reject' | 'ignore';
  /**
   * `ports` while an instance is not running: `{}` or null. The old sim's null crashed `vast.py ssh-url`
   * (audit §3: not what the service sends); the docs are silent (audit §4.11), so both can be produced.
   */
  portsWhenDown: 'empty_object' | 'null';
  /**
   * A create with less credit than one hour of it: 'none' (rented, then stopped at $0 by the balance
   * rule: nothing documents a create-time check, audit §4.17) or '411' insufficient_credit (the old sim).
   */
  createCreditCheck: 'none' | '411';
  /** Emit odd but plausible field shapes (numeric strings, padded strings, null port entries) to exercise lenient parsing. */
  oddShapes: boolean;
}

export const REALISTIC: FidelityOptions = {
  instanceKeysShape: 'json_string',
  emptyAccountKeys: 'not_found',
  stateChangeSeconds: 5,
  pullFailures: true,
  organicOutbids: true,
  outbidShape: 'intended_stopped',
  rentalExpiry: true,
  logNotReady: 's3_403',
  cloudCopyStatusDelaySeconds: 30,
  rateLimits: true,
  unknownSearchFields: 'reject',
  portsWhenDown: 'empty_object',
  createCreditCheck: 'none',
  oddShapes: false,
};

/** The old, kinder simulator: for tests that check something else and need speed. */
export const LENIENT_SIM: FidelityOptions = {
  instanceKeysShape: 'array',
  emptyAccountKeys: 'empty_array',
  stateChangeSeconds: 0,
  pullFailures: false,
  organicOutbids: false,
  outbidShape: 'intended_running',
  rentalExpiry: false,
  logNotReady: 'not_found',
  cloudCopyStatusDelaySeconds: 0,
  rateLimits: false,
  unknownSearchFields: 'ignore',
  portsWhenDown: 'null',
  createCreditCheck: '411',
  oddShapes: false,
};

export function resolveFidelity(over: Partial<FidelityOptions> | undefined, rateLimits: boolean | undefined): FidelityOptions {
  const f = { ...REALISTIC, ...(over ?? {}) };
  if (rateLimits !== undefined) f.rateLimits = rateLimits;
  return f;
}
