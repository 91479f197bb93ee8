import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ServerDeps } from '../deps.js';
import { jobsRuntime } from '../jobs/runtime.js';
import { effectiveTeam, ownersOf } from '../profiles/attribution.js';
import { readableProfiles } from '../profiles/spend-gate.js';
import { inspectWorkspace } from '../ssh/inspect-disk.js';
import type { AuditLog } from '../state/audit-log.js';
import { accountFor } from './accounts.js';
import { guardedVast } from './guarded-vast.js';
import { actorOf, callerOf, IdentityError, LOCAL_CALLER, type AuthLike, type Caller } from './caller.js';

/**
 * An authenticated user's folder under the copy root (`users/<name>-<hash>`): the name made safe for a
 * path, the hash of the exact name so two names that clean up alike never share a folder.
 */
export function userCopyDir(user: string | null): string {
  const name = user ?? '';
  const safe =
    name
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^\.+/, '_')
      .slice(0, 40) || 'user';
  return join('users', `${safe}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`);
}

/** Who a call is for, as resolved once per call: the caller, their team (token or budgets file) and account. */
export interface CallIdentity {
  caller: Caller;
  team: string | null;
  /** The configured account used (null: the server's own key). */
  account: string | null;
}

const IDENTITY = Symbol('vast-mcp.call-identity');
const LOCAL: CallIdentity = Object.freeze({ caller: LOCAL_CALLER, team: null, account: null });

/** The identity of the call a deps view was made for (the local user for the plain deps). */
export function identityOf(deps: ServerDeps): CallIdentity {
  return ((deps as unknown as Record<symbol, unknown>)[IDENTITY] as CallIdentity | undefined) ?? LOCAL;
}

const ACCOUNT_VAST = Symbol('vast-mcp.account-vast');

/**
 * The caller's account client without the owner guard: only for the server's own safety actions over
 * the whole account (stopping a duplicate a late commit rented, whoever's status call finds it).
 */
export function accountVast(deps: ServerDeps): ServerDeps['vast'] {
  return ((deps as unknown as Record<symbol, unknown>)[ACCOUNT_VAST] as ServerDeps['vast'] | undefined) ?? deps.vast;
}

/**
 * The deps one tool call sees: the Vast client (guarded by instance owner) and copy ledger of the caller's account, and an audit
 * log that stamps every record with the caller as actor. Everything else (and every write, e.g. a
 * runtime opened on first use) is the shared deps. Throws (fail closed) when the caller's identity is
 * unusable or their team has no account while accounts are configured.
 */
export function depsForCall(deps: ServerDeps, authInfo: AuthLike | undefined, toolName: string): ServerDeps {
  const caller = callerOf(authInfo);
  // A broken edit refuses spending where it is checked; who the caller is comes from the last good file.
  const file = readableProfiles(deps);
  const team = effectiveTeam(file, caller);
  const account = accountFor(deps, file, caller, team);
  if (toolName.startsWith('job_')) {
    if (account.name !== null && toolName === 'job_submit')
      throw new IdentityError(
        `Refused: jobs run under the server's own Vast account, and your team uses account "${account.name}". Nothing was submitted; use create for now, or ask the operator.`,
      );
    // The supervisor keeps the deps it was started with: start it from the shared deps, never a caller's view.
    jobsRuntime(deps);
  }
  const identity: CallIdentity = { caller, team, account: account.name };
  // An authenticated caller sees and changes only the instances the owner rule gives them (guarded-vast.ts).
  const vast = caller.authenticated ? guardedVast(account.vast, identity, () => ownersOf(deps)) : account.vast;
  const actor = actorOf({ ...caller, team }, account.name);
  // Each authenticated user copies within a folder of their own: nobody reads or overwrites another's verified copies.
  const config = caller.authenticated ? { ...deps.config, copyRoot: join(deps.config.copyRoot, userCopyDir(caller.user)) } : deps.config;
  const audit = Object.create(deps.audit, {
    record: { value: (e: Parameters<AuditLog['record']>[0]) => deps.audit.record({ ...e, actor: e.actor ?? actor }) },
  }) as AuditLog;
  const view: ServerDeps = new Proxy(deps, {
    get(target, key) {
      if (key === IDENTITY) return identity;
      if (key === ACCOUNT_VAST) return account.vast;
      if (key === 'vast') return vast;
      if (key === 'ledger') return account.ledger;
      if (key === 'audit') return audit;
      if (key === 'config') return config;
      // The shared disk inspection looks the instance up with the server's own client.
      if (key === 'inspectDisk' && account.name !== null && target.inspectDisk) return (id: number) => inspectWorkspace(view, id);
      return Reflect.get(target, key);
    },
    set(target, key, value) {
      return Reflect.set(target, key, value);
    },
  });
  return view;
}
