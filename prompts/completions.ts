import type { ServerDeps } from '../server/deps.js';
import type { AuthLike } from '../server/identity/caller.js';
import { depsForCall } from '../server/identity/caller-deps.js';
import { visibleInstances } from '../server/identity/instance-access.js';

/** Completion lists are capped by the protocol (100 values per answer). */
const MAX_VALUES = 100;
/** A client may ask on every keystroke: one account listing serves them for this long. */
const INSTANCE_CACHE_MS = 10_000;

export type Completer = (value: string) => Promise<string[]>;

function matching(values: string[], prefix: string): string[] {
  const p = prefix.trim().toLowerCase();
  return values.filter((v) => v.toLowerCase().startsWith(p)).slice(0, MAX_VALUES);
}

/** Profile names from the loaded config. */
export function profileNameCompleter(deps: ServerDeps): Completer {
  return async (value) => matching(Object.keys(deps.profiles.profiles), value ?? '');
}

/**
 * The ids of the instances the session's user may see (numbers only: labels and status text are not offered,
 * nothing the platform or an instance controls reaches the client this way; on a shared account, the owner rule
 * of the tools). A failing or key-less account, or an unusable identity, yields no suggestions, not an error.
 */
export function instanceIdCompleter(deps: ServerDeps, sessionAuth?: AuthLike, clock: () => number = Date.now): Completer {
  let cached: { at: number; ids: string[] } | null = null;
  return async (value) => {
    if (!cached || clock() - cached.at > INSTANCE_CACHE_MS) {
      try {
        const view = depsForCall(deps, sessionAuth, 'completion');
        const list = await visibleInstances(view, await view.vast.listInstances());
        cached = { at: clock(), ids: list.map((i) => String(i.id)).filter((id) => /^\d+$/.test(id)) };
      } catch (error) {
        deps.logger.debug({ err: error }, 'instance id completion: listing failed');
        return [];
      }
    }
    return matching(cached.ids, value ?? '');
  };
}
