import type { ServerDeps } from '../deps.js';
import { ownersOf } from '../profiles/attribution.js';
import { identityOf } from './caller-deps.js';
import type { Instance } from '../vast/schemas.js';
import { type InstanceAccess, instanceAccess, requireAccess } from './guarded-vast.js';

/** Throws unless this call's caller may `need` the instance (control: every tool that is not read-only). */
export async function assertInstanceAccess(deps: ServerDeps, id: number, need: Exclude<InstanceAccess, 'none'>): Promise<void> {
  const { caller, team, account } = identityOf(deps);
  if (!caller.authenticated) return;
  requireAccess(instanceAccess(caller, team, (await ownersOf(deps)).get(id), account), id, need);
}

/**
 * The part of an account listing this call's caller may see (the local user: all of it). Filter what a
 * caller is SHOWN with this; budgets, reconciliation and the duplicate scan read the whole account.
 */
export async function visibleInstances<T extends Pick<Instance, 'id'>>(deps: ServerDeps, list: T[]): Promise<T[]> {
  const { caller, team, account } = identityOf(deps);
  if (!caller.authenticated) return list;
  const owners = await ownersOf(deps);
  return list.filter((i) => instanceAccess(caller, team, owners.get(i.id), account) !== 'none');
}
