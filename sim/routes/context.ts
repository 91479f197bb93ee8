import type { Router } from '../http-router.js';
import type { RowContext } from '../instance-rows.js';
import type { SimWorld } from '../world.js';
import { SimHttpError } from '../http-error.js';
import type { SimInstance } from '../types.js';
import type { SshManager } from '../ssh/manager.js';

export interface RouteContext {
  world: SimWorld;
  ssh: SshManager | null;
  router: Router;
  baseUrl(): string;
  rowContext(): RowContext;
}

/** A live (not destroyed) instance of the account, or the API's 404. */
export function liveInstance(ctx: RouteContext, idText: string | undefined): SimInstance {
  const id = Number(idText);
  const inst = Number.isInteger(id) ? ctx.world.instances.get(id) : undefined;
  if (!inst || inst.destroyedAt !== null) throw new SimHttpError(404, 'no_such_instance', `Instance ${idText} not found.`);
  return inst;
}

export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new SimHttpError(400, 'invalid_request', 'Invalid json body');
  return body as Record<string, unknown>;
}
