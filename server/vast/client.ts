import { z } from 'zod';
import { VastApiError, VastMcpError } from '../errors.js';
import {
  ChargesResponseSchema,
  GpuNamesSchema,
  InstanceResponseSchema,
  InstanceSchema,
  InstancesPageSchema,
  InvoicesResponseSchema,
  LenientInstanceSchema,
  LenientOfferSchema,
  OfferSchema,
  OffersResponseSchema,
  SuccessSchema,
  UserSchema,
  type ChargesResponse,
  type Instance,
  type Invoice,
  type Offer,
  type User,
} from './schemas.js';
import { parseRow, parseRows } from './lenient-rows.js';
import { InstanceExtrasApi } from './instance-extras-api.js';

export { AccountKeysSchema, InstanceKeysSchema, LogsResponseSchema } from './instance-extras-api.js';

const MAX_PAGES = 200;

/** `{success, new_contract}` (+ `instance_api_key`, `ask_id`): DOC create_instance.yaml; vastai/data/instance.py:34-49. */
export const CreateResponseSchema = z.object({
  success: z.boolean(),
  new_contract: z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number()),
});
export interface CreateBody {
  client_id: 'me';
  image: string;
  env: Record<string, string>;
  price: number | null;
  disk: number;
  label: string | null;
  extra: string | null;
  onstart: string | null;
  runtype: string;
  cancel_unavail: boolean;
  image_login: null;
  python_utf8: boolean;
  lang_utf8: boolean;
  use_jupyter_lab: boolean;
  jupyter_dir: null;
  force: boolean;
  template_hash_id: null;
  user: null;
}

/**
 * Typed methods over the Vast REST API. Each declares whether it is safe to repeat. SSH keys, the
 * platform's cloud copy and logs live in the base class (instance-extras-api.ts).
 */
export class VastClient extends InstanceExtrasApi {
  /** Each instance's latest read (monotonic ms), for callers that can use one a moment old. */
  private readonly lastRead = new Map<number, { atMs: number; inst: Instance }>();

  /**
   * The instance as last read, if no older than `maxAgeMs`: SSH access right after another call uses
   * it instead of waiting out the platform's 2 s spacing of instance reads. Any change we make to the
   * instance forgets it.
   */
  recentInstance(id: number, maxAgeMs: number): Instance | null {
    const r = this.lastRead.get(id);
    return r && performance.now() - r.atMs <= maxAgeMs ? r.inst : null;
  }

  private remember(inst: Instance): void {
    this.lastRead.set(inst.id, { atMs: performance.now(), inst });
  }

  private forget(id: number): void {
    this.lastRead.delete(id);
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** The platform's current time, epoch seconds (see VastHttp.serverNow). */
  serverNow(): number {
    return this.http.serverNow();
  }

  async searchOffers(body: Record<string, unknown>): Promise<Offer[]> {
    return (await this.searchOffersPage(body)).offers;
  }

  /** A search, and how many rows the platform returned before `rented` was applied here (a full page may have more). */
  async searchOffersPage(body: Record<string, unknown>): Promise<{ offers: Offer[]; returned: number }> {
    // A search changes nothing: safe to repeat although it is a POST.
    const r = await this.http.call({ method: 'POST', path: '/api/v0/bundles/', body, schema: OffersResponseSchema, idempotent: true });
    const rows = parseRows(r.offers, OfferSchema, LenientOfferSchema, 'offer', (d, m) => this.http.warn(d, m));
    // `rented` is "not a server-side filter. The server drops this key" (DOC search_offers.yaml): as
    // vast.py does, rows are filtered here (a missing flag counts as not rented).
    const rented = (body.rented as { eq?: unknown } | undefined)?.eq;
    return { offers: typeof rented === 'boolean' ? rows.filter((o) => Boolean(o.rented) === rented) : rows, returned: r.offers.length };
  }

  async gpuNames(): Promise<string[]> {
    return (await this.http.call({ method: 'GET', path: '/api/v0/gpu_names/unique/', schema: GpuNamesSchema, idempotent: true, anonymous: true }))
      .gpu_names;
  }

  /** Every instance of the account, following `next_token` (the API pages by 25). */
  async listInstances(): Promise<Instance[]> {
    const out: Instance[] = [];
    let token: string | null | undefined = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Record<string, unknown> = { select_filters: {}, order_by: [{ col: 'id', dir: 'asc' }], limit: 25 };
      if (token) query.after_token = token;
      const r: z.infer<typeof InstancesPageSchema> = await this.http.call({
        method: 'GET',
        path: '/api/v1/instances/',
        query,
        schema: InstancesPageSchema,
        idempotent: true,
      });
      const rows = parseRows(r.instances, InstanceSchema, LenientInstanceSchema, 'instance', (d, m) => this.http.warn(d, m));
      for (const row of rows) this.remember(row);
      out.push(...rows);
      token = r.next_token;
      if (!token) return out;
    }
    throw new VastApiError(
      `Instance listing did not end after ${MAX_PAGES} pages; stopping to avoid a runaway loop.`,
      'bad_response',
      200,
      'GET /api/v1/instances/',
    );
  }

  /** One instance, or null when it does not exist or was destroyed. `signal` abandons the request (a deadline). */
  async getInstance(id: number, opts: { signal?: AbortSignal } = {}): Promise<Instance | null> {
    const r = await this.http.call({
      method: 'GET',
      path: `/api/v0/instances/${id}/`,
      query: { owner: 'me' },
      schema: InstanceResponseSchema,
      idempotent: true,
      signal: opts.signal,
    });
    if (r.instances === null || r.instances === undefined) {
      this.forget(id);
      return null;
    }
    const row = parseRow(r.instances, InstanceSchema, LenientInstanceSchema, 'instance', (d, m) => this.http.warn(d, m));
    if (!row)
      throw new VastApiError(
        `Vast API returned an unreadable row for instance ${id}. The API may have changed.`,
        'bad_response',
        200,
        'GET /api/v0/instances/{id}/',
      );
    this.remember(row);
    return row;
  }

  /** One instance, or a clear error when it does not exist (never a silent null). */
  async requireInstance(id: number): Promise<Instance> {
    const inst = await this.getInstance(id);
    if (!inst) throw new VastMcpError(`Instance ${id} does not exist or was destroyed. Call status to list your instances.`, 'not_found');
    return inst;
  }

  async currentUser(): Promise<User> {
    return this.http.call({ method: 'GET', path: '/api/v0/users/current', schema: UserSchema, idempotent: true });
  }

  async invoices(fromEpoch: number, toEpoch: number): Promise<Invoice[]> {
    const r = await this.http.call({
      method: 'GET',
      path: '/api/v0/users/me/invoices',
      query: { owner: 'me', sdate: fromEpoch, edate: toEpoch, inc_charges: true },
      schema: InvoicesResponseSchema,
      idempotent: true,
    });
    return r.invoices;
  }

  async charges(fromEpoch: number, toEpoch: number): Promise<ChargesResponse['results']> {
    const out: ChargesResponse['results'] = [];
    let token: string | null | undefined = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Record<string, unknown> = {
        select_filters: { day: { gte: Math.floor(fromEpoch), lte: Math.ceil(toEpoch) } },
        latest_first: false,
        limit: 100,
        format: 'table',
      };
      if (token) query.after_token = token;
      const r: ChargesResponse = await this.http.call({
        method: 'GET',
        path: '/api/v0/charges/',
        query,
        schema: ChargesResponseSchema,
        idempotent: true,
      });
      out.push(...r.results);
      token = r.next_token;
      if (!token) return out;
    }
    return out;
  }

  /**
   * Rents an offer. NOT safe to repeat: a lost answer must be reconciled by listing instances.
   * A refused create can still have created an instance: the thrown VastApiError then carries its
   * id in `newContract` (dstack api_client.py 18-22, 97-100: a spot bid below the winning price).
   */
  async createInstance(askId: number, body: CreateBody): Promise<number> {
    const r = await this.http.call({
      method: 'PUT',
      path: `/api/v0/asks/${askId}/`,
      body,
      schema: CreateResponseSchema,
      idempotent: false,
      rejectSoftFailure: true,
    });
    return r.new_contract;
  }

  /**
   * One change to an instance: its remembered read is forgotten before the request and after it (a
   * read in flight meanwhile may have put the row from before the change back).
   */
  private async changeInstance(id: number, method: 'PUT' | 'DELETE', path: string, body: unknown, idempotent: boolean): Promise<void> {
    this.forget(id);
    try {
      await this.http.call({ method, path, body, schema: SuccessSchema, idempotent, rejectSoftFailure: true });
    } finally {
      this.forget(id);
    }
  }

  async setState(id: number, state: 'running' | 'stopped'): Promise<void> {
    await this.changeInstance(id, 'PUT', `/api/v0/instances/${id}/`, { state }, true);
  }

  async setLabel(id: number, label: string): Promise<void> {
    await this.changeInstance(id, 'PUT', `/api/v0/instances/${id}/`, { label }, true);
  }

  async reboot(id: number): Promise<void> {
    await this.changeInstance(id, 'PUT', `/api/v0/instances/reboot/${id}/`, {}, false);
  }

  async changeBid(id: number, price: number | null): Promise<void> {
    await this.changeInstance(id, 'PUT', `/api/v0/instances/bid_price/${id}/`, { client_id: 'me', price }, true);
  }

  /**
   * Destroys an instance. A repeat (our first answer was lost) gets 404 `no_such_instance` / "not
   * found" (dstack api_client.py:112; DOC destroy_instance.yaml): that counts as done once a read
   * confirms the instance is gone (`{"instances": null}`).
   */
  async destroy(id: number): Promise<void> {
    try {
      await this.changeInstance(id, 'DELETE', `/api/v0/instances/${id}/`, {}, true);
    } catch (e) {
      const gone = e instanceof VastApiError && (e.kind === 'not_found' || e.apiCode === 'no_such_instance');
      if (gone && (await this.getInstance(id)) === null) return;
      throw e;
    }
  }
}
