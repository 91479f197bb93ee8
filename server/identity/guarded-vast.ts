import { VastMcpError } from '../errors.js';
import type { InstanceOwner } from '../profiles/attribution.js';
import type { VastClient } from '../vast/client.js';
import type { Caller } from './caller.js';

/**
 * What an authenticated caller may do with an instance of a shared account, by who rented it (the
 * audit log of every replica, never the label: anyone can write a name into a label). The same rule as jobs
 * (job-access.ts): the local (stdio) user runs the server and controls everything; an authenticated
 * user controls the instances they rented (or their jobs rented), reads those of their team, and does
 * not see the rest. An instance this server has no rental record of (rented on the web console, or the
 * record was lost) belongs to nobody here: only the operator may touch it (fail closed).
 */
export type InstanceAccess = 'control' | 'read' | 'none';

export function instanceAccess(caller: Caller, team: string | null, owner: InstanceOwner | undefined, account: string | null = null): InstanceAccess {
  if (!caller.authenticated) return 'control';
  // A rental record of another account names another machine that happens to share the id.
  if (!owner || owner.user === null || owner.account !== account) return 'none';
  if (owner.user === caller.user) return 'control';
  return team !== null && owner.team === team ? 'read' : 'none';
}

/** The answer for an instance the caller may not see: the same words as a missing one (its existence is not revealed). */
function notFound(id: number): VastMcpError {
  return new VastMcpError(`Instance ${id} does not exist or was destroyed. Call status to list your instances.`, 'not_found');
}

/** Throws unless `access` covers `need`: an unseen instance "does not exist"; a teammate's may be read, not changed. */
export function requireAccess(access: InstanceAccess, id: number, need: Exclude<InstanceAccess, 'none'>): void {
  if (access === 'none') throw notFound(id);
  if (access === 'read' && need === 'control')
    throw new VastMcpError(
      `Refused: instance ${id} was rented by another user of your team; you may read it (status, logs), not change it, run commands on it or copy from it. Ask its owner. Nothing was done.`,
      'identity_refused',
    );
}

/** Methods of the client that name an instance first, with the access each needs. */
const BY_ID: Record<string, Exclude<InstanceAccess, 'none'>> = {
  getInstance: 'read',
  requireInstance: 'read',
  requestLogs: 'read',
  instanceSshKeys: 'control',
  attachSshKey: 'control',
  setState: 'control',
  setLabel: 'control',
  reboot: 'control',
  changeBid: 'control',
  destroy: 'control',
  cancelCloudCopy: 'control',
};

/**
 * The Vast client an authenticated caller's tools get: a look-up of an instance they may not see
 * answers "does not exist", and every mutation by id needs control. Defence in depth under the
 * tool-level check in tools/register.ts: a tool that forgets to ask still cannot act on someone else's
 * instance through this client. The account listing is NOT filtered here: the server's own safety
 * mechanisms need all of it (a lost create's marker look-ups, budget and burn caps over the whole
 * account, the late-duplicate scan); what a caller is shown is filtered by visibleInstances().
 */
export function guardedVast(
  vast: VastClient,
  who: { caller: Caller; team: string | null; account: string | null },
  owners: () => Promise<Map<number, InstanceOwner>>,
): VastClient {
  // Owners that cannot be read (the shared audit log out of reach) reject: nothing is done on a guess.
  const access = async (id: number) => instanceAccess(who.caller, who.team, (await owners()).get(id), who.account);
  const check = async (id: number, need: Exclude<InstanceAccess, 'none'>) => requireAccess(await access(id), id, need);
  return new Proxy(vast, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || typeof value !== 'function') return value;
      if (key === 'getInstance')
        return async (id: number, ...rest: unknown[]) => ((await access(id)) === 'none' ? null : value.apply(receiver, [id, ...rest]));
      if (key === 'startCloudCopy')
        return async (body: { instance_id: string }, ...rest: unknown[]) => {
          await check(Number(body.instance_id), 'control');
          return value.apply(receiver, [body, ...rest]);
        };
      const need = BY_ID[key];
      if (!need) return value;
      return async (id: number, ...rest: unknown[]) => {
        await check(id, need);
        return value.apply(receiver, [id, ...rest]);
      };
    },
  });
}
