import type { ServerDeps } from '../deps.js';

/** Deps set lazily by tools on first use (confirm.ts, jobs/runtime.ts): one per process, shared by sessions. */
const SHARED_LAZY = ['approvalPages', 'jobs'] as const;

/**
 * The deps of one MCP session: everything shared (API client, ledger, audit, confirmations, jobs,
 * profiles) except what describes this conversation (`session`: the last offer search).
 */
export function sessionDeps(shared: ServerDeps): ServerDeps {
  const d: ServerDeps = { ...shared, session: { lastOfferSearch: null } };
  for (const key of SHARED_LAZY) {
    Object.defineProperty(d, key, {
      enumerable: true,
      get: () => shared[key],
      set: (v) => {
        (shared as unknown as Record<string, unknown>)[key] = v;
      },
    });
  }
  return d;
}
