import { z } from 'zod';
import { VastApiError, VastMcpError } from '../errors.js';
import type { VastHttp } from './http.js';
import {
  ChargesResponseSchema, GpuNamesSchema, InstanceResponseSchema, InstancesPageSchema, InvoicesResponseSchema, OffersResponseSchema,
  SuccessSchema, UserSchema, type ChargesResponse, type Instance, type Invoice, type Offer, type User,
} from './schemas.js';

const MAX_PAGES = 200;

export const CreateResponseSchema = z.object({ success: z.boolean(), new_contract: z.number() });
const SshKeyRow = z.object({ id: z.number(), public_key: z.string().nullable().optional(), key: z.string().nullable().optional() });
export const AccountKeysSchema = z.array(SshKeyRow);
export const InstanceKeysSchema = z.object({ ssh_keys: z.array(SshKeyRow) });
export const LogsResponseSchema = z.object({ success: z.boolean().optional(), result_url: z.string(), msg: z.string().optional() });

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

/** Typed methods over the Vast REST API. Each declares whether it is safe to repeat. */
export class VastClient {
  constructor(private readonly http: VastHttp) {}

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** The platform's current time, epoch seconds (see VastHttp.serverNow). */
  serverNow(): number {
    return this.http.serverNow();
  }

  async searchOffers(body: Record<string, unknown>): Promise<Offer[]> {
    // A search changes nothing: safe to repeat although it is a POST.
    const r = await this.http.call({ method: 'POST', path: '/api/v0/bundles/', body, schema: OffersResponseSchema, idempotent: true });
    return r.offers;
  }

  async gpuNames(): Promise<string[]> {
    return (await this.http.call({ method: 'GET', path: '/api/v0/gpu_names/unique/', schema: GpuNamesSchema, idempotent: true, anonymous: true })).gpu_names;
  }

  /** Every instance of the account, following `next_token` (the API pages by 25). */
  async listInstances(): Promise<Instance[]> {
    const out: Instance[] = [];
    let token: string | null | undefined = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Record<string, unknown> = { select_filters: {}, order_by: [{ col: 'id', dir: 'asc' }], limit: 25 };
      if (token) query.after_token = token;
      const r: z.infer<typeof InstancesPageSchema> = await this.http.call({ method: 'GET', path: '/api/v1/instances/', query, schema: InstancesPageSchema, idempotent: true });
      out.push(...(r.instances ?? []));
      token = r.next_token;
      if (!token) return out;
    }
    throw new VastApiError(`Instance listing did not end after ${MAX_PAGES} pages; stopping to avoid a runaway loop.`, 'bad_response', 200, 'GET /api/v1/instances/');
  }

  /** One instance, or null when it does not exist or was destroyed. */
  async getInstance(id: number): Promise<Instance | null> {
    const r = await this.http.call({ method: 'GET', path: `/api/v0/instances/${id}/`, query: { owner: 'me' }, schema: InstanceResponseSchema, idempotent: true });
    return r.instances;
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
    const r = await this.http.call({ method: 'GET', path: '/api/v0/users/me/invoices', query: { owner: 'me', sdate: fromEpoch, edate: toEpoch, inc_charges: true }, schema: InvoicesResponseSchema, idempotent: true });
    return r.invoices;
  }

  async charges(fromEpoch: number, toEpoch: number): Promise<ChargesResponse['results']> {
    const out: ChargesResponse['results'] = [];
    let token: string | null | undefined = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Record<string, unknown> = { select_filters: { day: { gte: Math.floor(fromEpoch), lte: Math.ceil(toEpoch) } }, latest_first: false, limit: 100, format: 'table' };
      if (token) query.after_token = token;
      const r: ChargesResponse = await this.http.call({ method: 'GET', path: '/api/v0/charges/', query, schema: ChargesResponseSchema, idempotent: true });
      out.push(...r.results);
      token = r.next_token;
      if (!token) return out;
    }
    return out;
  }

  /** Rents an offer. NOT safe to repeat: a lost answer must be reconciled by listing instances. */
  async createInstance(askId: number, body: CreateBody): Promise<number> {
    const r = await this.http.call({ method: 'PUT', path: `/api/v0/asks/${askId}/`, body, schema: CreateResponseSchema, idempotent: false, rejectSoftFailure: true });
    return r.new_contract;
  }

  async setState(id: number, state: 'running' | 'stopped'): Promise<void> {
    await this.http.call({ method: 'PUT', path: `/api/v0/instances/${id}/`, body: { state }, schema: SuccessSchema, idempotent: true, rejectSoftFailure: true });
  }

  async setLabel(id: number, label: string): Promise<void> {
    await this.http.call({ method: 'PUT', path: `/api/v0/instances/${id}/`, body: { label }, schema: SuccessSchema, idempotent: true, rejectSoftFailure: true });
  }

  async reboot(id: number): Promise<void> {
    await this.http.call({ method: 'PUT', path: `/api/v0/instances/reboot/${id}/`, body: {}, schema: SuccessSchema, idempotent: false, rejectSoftFailure: true });
  }

  async changeBid(id: number, price: number | null): Promise<void> {
    await this.http.call({ method: 'PUT', path: `/api/v0/instances/bid_price/${id}/`, body: { client_id: 'me', price }, schema: SuccessSchema, idempotent: true, rejectSoftFailure: true });
  }

  async destroy(id: number): Promise<void> {
    await this.http.call({ method: 'DELETE', path: `/api/v0/instances/${id}/`, body: {}, schema: SuccessSchema, idempotent: true, rejectSoftFailure: true });
  }

  async accountSshKeys(): Promise<string[]> {
    const rows = await this.http.call({ method: 'GET', path: '/api/v0/ssh/', schema: AccountKeysSchema, idempotent: true });
    return rows.map((r) => r.public_key ?? r.key ?? '').filter(Boolean);
  }

  /** Registers a public key on the account; it reaches instances created from now on. */
  async addAccountSshKey(publicKey: string): Promise<void> {
    await this.http.call({ method: 'POST', path: '/api/v0/ssh/', body: { ssh_key: publicKey }, schema: SuccessSchema, idempotent: false, rejectSoftFailure: true });
  }

  async instanceSshKeys(id: number): Promise<string[]> {
    const r = await this.http.call({ method: 'GET', path: `/api/v0/instances/${id}/ssh/`, schema: InstanceKeysSchema, idempotent: true });
    return r.ssh_keys.map((k) => k.public_key ?? k.key ?? '').filter(Boolean);
  }

  /** Attaching the same key twice is harmless, so this is safe to repeat. */
  async attachSshKey(id: number, publicKey: string): Promise<void> {
    await this.http.call({ method: 'POST', path: `/api/v0/instances/${id}/ssh/`, body: { ssh_key: publicKey }, schema: SuccessSchema, idempotent: true, rejectSoftFailure: true });
  }

  async cloudConnections(): Promise<{ id: number; name: string; cloud_type: string }[]> {
    return this.http.call({ method: 'GET', path: '/api/v0/users/cloud_integrations/', schema: z.array(z.object({ id: z.number(), name: z.string(), cloud_type: z.string() })), idempotent: true });
  }

  /** Starts the platform's own cloud copy; any 200 means started (progress shows in status_msg). */
  async startCloudCopy(body: { src: string; dst: string; instance_id: string; selected: string; transfer: 'Instance to Cloud'; flags: string[] }): Promise<void> {
    await this.http.call({ method: 'POST', path: '/api/v0/commands/rclone/', body, schema: z.unknown(), idempotent: false });
  }

  async requestLogs(id: number, tail?: number): Promise<string> {
    const body = tail === undefined ? {} : { tail: String(tail) };
    return (await this.http.call({ method: 'PUT', path: `/api/v0/instances/request_logs/${id}/`, body, schema: LogsResponseSchema, idempotent: true, rejectSoftFailure: true })).result_url;
  }

  /** Fetches a log result URL: 404 means not ready yet (returns null). */
  async fetchResult(url: string): Promise<string | null> {
    try {
      return await this.http.call({ method: 'GET', path: '/result', absoluteUrl: url, schema: z.string(), idempotent: true, anonymous: true, text: true });
    } catch (e) {
      if (e instanceof VastApiError && e.kind === 'not_found') return null;
      throw e;
    }
  }
}
