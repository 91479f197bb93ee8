import { SimHttpError } from '../http-error.js';
import { ok, type SimRequest } from '../http-router.js';
import { createInstance, CreateRefusedWithContract } from '../create-instance.js';
import { interrupt } from '../interruptions.js';
import { renderInstanceRow } from '../instance-rows.js';
import type { SimInstance } from '../types.js';
import { bodyObject, liveInstance, type RouteContext } from './context.js';

const V1_PAGE_MAX = 25;
const V1_FILTER_COLUMNS = new Set(['actual_status', 'intended_status', 'gpu_name', 'verification', 'id', 'label', 'machine_id']);

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

function decodeToken(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  try {
    const o = (JSON.parse(Buffer.from(String(token), 'base64url').toString('utf8')) as { o?: unknown }).o;
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    /* fall through */
  }
  throw new SimHttpError(400, 'invalid_token', 'Invalid after_token.');
}

function applyV1Filters(rows: Record<string, unknown>[], filters: unknown): Record<string, unknown>[] {
  if (filters === undefined || filters === null || filters === '') return rows;
  if (typeof filters !== 'object' || Array.isArray(filters)) throw new SimHttpError(400, 'invalid_request', 'select_filters must be an object');
  let out = rows;
  for (const [col, spec] of Object.entries(filters as Record<string, unknown>)) {
    if (!V1_FILTER_COLUMNS.has(col)) throw new SimHttpError(400, 'invalid_request', `Cannot filter on computed or unknown column ${col}.`);
    for (const [op, value] of Object.entries((spec ?? {}) as Record<string, unknown>)) {
      out = out.filter((row) => {
        const v = row[col];
        switch (op) {
          case 'eq':
            return v === value || String(v) === String(value);
          case 'neq':
            return String(v) !== String(value);
          case 'in':
            return Array.isArray(value) && value.map(String).includes(String(v));
          case 'notin':
            return Array.isArray(value) && !value.map(String).includes(String(v));
          default:
            throw new SimHttpError(400, 'invalid_request', `Unknown operator ${op}.`);
        }
      });
    }
  }
  return out;
}

function setState(ctx: RouteContext, inst: SimInstance, state: unknown): void {
  if (state === 'running' && inst.deleteAt !== null)
    throw new SimHttpError(400, 'invalid_args', `Instance ${inst.id}: the rental contract has expired; it cannot be restarted.`);
  if (state === 'running') ctx.world.start(inst);
  else if (state === 'stopped') ctx.world.stop(inst);
  else throw new SimHttpError(400, 'invalid_args', 'state must be "running" or "stopped"');
}

export function registerInstanceRoutes(ctx: RouteContext): void {
  const { router, world } = ctx;
  const rows = () => world.liveInstances().map((i) => renderInstanceRow(i, ctx.rowContext()));

  // DOC create_instance.yaml; vast.py 2490-2533; success body per vastai/data/instance.py:34-49.
  router.add('PUT', '/api/v0/asks/:id', async (req: SimRequest) => {
    let inst: SimInstance;
    try {
      inst = createInstance(world, Number(req.params.id), bodyObject(req.body));
    } catch (e) {
      if (!(e instanceof CreateRefusedWithContract)) throw e;
      // Created anyway (a bid below the winning price): the error body names it (dstack api_client.py 97-100).
      const created = world.instances.get(e.newContract);
      if (created) await ctx.ssh?.provision(created);
      return { status: e.status, body: { success: false, error: e.code, msg: e.message, new_contract: e.newContract } };
    }
    await ctx.ssh?.provision(inst);
    return ok({ success: true, new_contract: inst.id, instance_api_key: inst.instanceApiKey });
  });

  // DOC show_instances.yaml: v1 list, limit <= 25, next_token paging.
  router.add('GET', '/api/v1/instances', (req: SimRequest) => {
    const limitRaw = req.query.limit ?? V1_PAGE_MAX;
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1) throw new SimHttpError(400, 'invalid_request', 'limit must be a positive integer');
    const pageSize = Math.min(limit, V1_PAGE_MAX);
    const all = rows();
    const filtered = applyV1Filters(all, req.query.select_filters);
    const orderBy = Array.isArray(req.query.order_by) ? (req.query.order_by as { col?: string; dir?: string }[]) : [{ col: 'id', dir: 'asc' }];
    const first = orderBy[0];
    if (first?.col) {
      const col = first.col;
      const dir = first.dir === 'desc' ? -1 : 1;
      filtered.sort((a, b) => (Number(a[col]) - Number(b[col]) || String(a[col]).localeCompare(String(b[col]))) * dir);
    }
    const offset = decodeToken(req.query.after_token);
    const page = filtered.slice(offset, offset + pageSize);
    const more = offset + pageSize < filtered.length;
    const labelCounts: Record<string, number> = {};
    for (const r of all) if (typeof r.label === 'string') labelCounts[r.label] = (labelCounts[r.label] ?? 0) + 1;
    return ok({
      success: true,
      instances_found: filtered.length,
      total_instances: all.length,
      label_counts: labelCounts,
      next_token: more ? encodeToken(offset + pageSize) : null,
      instances: page,
    });
  });

  router.add('GET', '/api/v0/instances/filters', () => {
    const r = rows();
    return ok({
      filters: [
        {
          actual_status: [...new Set(r.map((x) => x.actual_status))],
          verification: [...new Set(r.map((x) => x.verification))],
          gpu_name: [...new Set(r.map((x) => x.gpu_name))],
        },
      ],
    });
  });

  router.add('GET', '/api/v0/instances', () => {
    const r = rows();
    return ok({ instances_found: r.length, instances: r });
  });

  router.add('GET', '/api/v0/instances/:id', (req: SimRequest) => {
    const id = Number(req.params.id);
    const inst = world.instances.get(id);
    // The CLI expects HTTP 200 with {"instances": null} for a missing or destroyed instance.
    if (!inst || inst.destroyedAt !== null) return ok({ instances: null });
    return ok({ instances: renderInstanceRow(inst, ctx.rowContext()) });
  });

  // DOC manage_instance.yaml (state running/stopped, label); vast.py start/stop/label instance.
  router.add('PUT', '/api/v0/instances/:id', (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    const body = bodyObject(req.body);
    if ('label' in body) {
      const label = body.label;
      if (label !== null && typeof label !== 'string') throw new SimHttpError(400, 'invalid_args', 'label must be a string');
      if (typeof label === 'string' && label.length > 256) throw new SimHttpError(400, 'label_too_long', 'label is longer than 256 characters');
      inst.label = label;
    }
    if ('state' in body) setState(ctx, inst, body.state);
    if (!('label' in body) && !('state' in body)) return ok({ success: false, msg: 'Nothing to update: send "state" or "label".' });
    return ok({ success: true });
  });

  router.add('PUT', '/api/v0/instances', (req: SimRequest) => {
    const body = bodyObject(req.body);
    const ids = Array.isArray(body.ids) ? body.ids : [];
    for (const id of ids) setState(ctx, liveInstance(ctx, String(id)), body.state);
    return ok({ success: true });
  });

  // DOC reboot_instance.yaml; vast.py reboot instance.
  router.add('PUT', '/api/v0/instances/reboot/:id', (req: SimRequest) => {
    world.reboot(liveInstance(ctx, req.params.id));
    return ok({ success: true });
  });

  // DOC recycle_instance.yaml:14-15: destroys and recreates the container from a fresh pull; the
  // container's disk is lost (the old simulator kept it, a false comfort).
  router.add('PUT', '/api/v0/instances/recycle/:id', async (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    world.accrue(inst, world.now());
    world.events.emit('stopped', inst);
    inst.actual = 'recycling';
    inst.intended = 'running';
    inst.statusMsg = `Recycling: pulling ${inst.image}`;
    inst.runningSince = null;
    inst.pending = null;
    inst.phaseEndsAt = world.now() + inst.imagePullSeconds;
    if (ctx.ssh) {
      ctx.ssh.sandbox.remove(inst.id);
      ctx.ssh.sandbox.prepare(inst.id);
    }
    world.log(inst, 'container recycled: disk wiped, image pulled again');
    return ok({ success: true });
  });

  // DOC change_bid.yaml: {client_id, price}, 0.001..32 x GPUs.
  router.add('PUT', '/api/v0/instances/bid_price/:id', (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    const body = bodyObject(req.body);
    const minBid = inst.ask.machine.minBidPerGpu * inst.numGpus;
    const price = body.price === null || body.price === undefined ? Math.round(minBid * 1.1 * 10000) / 10000 : Number(body.price);
    if (!Number.isFinite(price) || price < 0.001) throw new SimHttpError(400, 'invalid_price', 'Please set a bid price >= 0.001.');
    if (price > 32 * inst.numGpus) throw new SimHttpError(400, 'invalid_price', `Bid price must be at most ${32 * inst.numGpus} $/hour.`);
    // "On-demand → Interruptible: No, must create new instance" (DOC instance-types.mdx:111).
    if (!inst.isBid && world.fidelity.organicOutbids)
      throw new SimHttpError(400, 'invalid_args', `Instance ${inst.id} is on-demand; its bid cannot be changed.`);
    world.accrue(inst, world.now());
    inst.isBid = true;
    inst.gpuRate = price;
    // A bid below the current minimum loses its GPUs (the instance is interrupted).
    if (world.fidelity.organicOutbids && price < minBid && inst.holdsGpus) interrupt(world, inst);
    return ok({ success: true });
  });

  router.add('DELETE', '/api/v0/instances/:id', (req: SimRequest) => {
    const id = Number(req.params.id);
    const inst = world.instances.get(id);
    // DOC destroy_instance.yaml: 404 "Instance not found"; a repeat gets `no_such_instance`
    // (dstack api_client.py:112), not the old simulator's second success.
    if (!inst) throw new SimHttpError(404, 'not_found', 'Instance not found');
    if (inst.destroyedAt !== null) throw new SimHttpError(404, 'no_such_instance', `Instance ${id} not found.`);
    world.destroy(inst);
    return ok({ success: true, msg: 'Instance destroyed.' });
  });

  router.add('DELETE', '/api/v0/instances', (req: SimRequest) => {
    const body = bodyObject(req.body);
    const ids = Array.isArray(body.instance_ids) ? body.instance_ids : [];
    for (const id of ids) {
      const inst = world.instances.get(Number(id));
      if (inst) world.destroy(inst);
    }
    return ok({ success: true });
  });
}
