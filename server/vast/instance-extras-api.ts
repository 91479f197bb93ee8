import { z } from 'zod';
import { VastApiError } from '../errors.js';
import type { VastHttp } from './http.js';
import { SuccessSchema } from './schemas.js';

/** Key rows carry `public_key` (DOC show_instance_ssh_keys.yaml) or `key` (vast.py show ssh-keys); `created_at` is a date string or epoch. */
const SshKeyRow = z.object({
  id: z.unknown().optional(),
  public_key: z.string().nullable().optional(),
  key: z.string().nullable().optional(),
  ssh_key: z.string().nullable().optional(),
});
export const AccountKeysSchema = z.array(SshKeyRow);
/**
 * DOC show_instance_ssh_keys.yaml:38-41: `ssh_keys` is "JSON string containing array of SSH key
 * objects"; older answers (and the simulator's `array` option) send the array itself. Both are read.
 */
export const InstanceKeysSchema = z.object({
  ssh_keys: z.preprocess((v) => {
    if (typeof v !== 'string') return v ?? [];
    try {
      return v.trim() ? JSON.parse(v) : [];
    } catch {
      return v;
    }
  }, z.array(SshKeyRow)),
});
/** DOC logs.yaml:60: `result_url` is an S3 object URL. */
export const LogsResponseSchema = z.object({ success: z.boolean().optional(), result_url: z.string(), msg: z.string().optional() });

const keyText = (r: z.infer<typeof SshKeyRow>): string => (r.public_key ?? r.key ?? r.ssh_key ?? '').trim();

/** SSH keys, the platform's cloud copy and instance logs: the API around an instance (VastClient's base). */
export class InstanceExtrasApi {
  constructor(protected readonly http: VastHttp) {}

  /** The account's keys. DOC show_ssh_keys.yaml:55: an account without keys answers 404 "No SSH keys found". */
  async accountSshKeys(): Promise<string[]> {
    try {
      const rows = await this.http.call({ method: 'GET', path: '/api/v0/ssh/', schema: AccountKeysSchema, idempotent: true });
      return rows.map(keyText).filter(Boolean);
    } catch (e) {
      if (e instanceof VastApiError && e.kind === 'not_found') return [];
      throw e;
    }
  }

  /** Registers a public key on the account; it reaches instances created from now on. */
  async addAccountSshKey(publicKey: string): Promise<void> {
    await this.http.call({
      method: 'POST',
      path: '/api/v0/ssh/',
      body: { ssh_key: publicKey },
      schema: SuccessSchema,
      idempotent: false,
      rejectSoftFailure: true,
    });
  }

  async instanceSshKeys(id: number): Promise<string[]> {
    const r = await this.http.call({ method: 'GET', path: `/api/v0/instances/${id}/ssh/`, schema: InstanceKeysSchema, idempotent: true });
    return r.ssh_keys.map(keyText).filter(Boolean);
  }

  /** Attaching the same key twice is harmless, so this is safe to repeat. */
  async attachSshKey(id: number, publicKey: string): Promise<void> {
    await this.http.call({
      method: 'POST',
      path: `/api/v0/instances/${id}/ssh/`,
      body: { ssh_key: publicKey },
      schema: SuccessSchema,
      idempotent: true,
      rejectSoftFailure: true,
    });
  }

  async cloudConnections(): Promise<{ id: number; name: string; cloud_type: string }[]> {
    return this.http.call({
      method: 'GET',
      path: '/api/v0/users/cloud_integrations/',
      schema: z.array(z.object({ id: z.number(), name: z.string(), cloud_type: z.string() })),
      idempotent: true,
    });
  }

  /** Starts the platform's own cloud copy; any 200 means started (progress shows in status_msg). */
  async startCloudCopy(body: {
    src: string;
    dst: string;
    instance_id: string;
    selected: string;
    transfer: 'Instance to Cloud';
    flags: string[];
  }): Promise<void> {
    await this.http.call({ method: 'POST', path: '/api/v0/commands/rclone/', body, schema: z.unknown(), idempotent: false });
  }

  /** Cancels the platform's cloud copy on an instance (vast.py `cancel sync`: DELETE /commands/rclone/). */
  async cancelCloudCopy(instanceId: number): Promise<void> {
    await this.http.call({
      method: 'DELETE',
      path: '/api/v0/commands/rclone/',
      body: { instance_id: instanceId },
      schema: z.unknown(),
      idempotent: true,
    });
  }

  async requestLogs(id: number, tail?: number): Promise<string> {
    const body = tail === undefined ? {} : { tail: String(tail) };
    return (
      await this.http.call({
        method: 'PUT',
        path: `/api/v0/instances/request_logs/${id}/`,
        body,
        schema: LogsResponseSchema,
        idempotent: true,
        rejectSoftFailure: true,
      })
    ).result_url;
  }

  /**
   * Fetches a log result URL. It is an S3 object (DOC logs.yaml:60) that answers 403/404 with an XML
   * body until uploaded; like vast.py (3669-3679) any non-200 means "not ready yet" (null), never an
   * API-key problem: this URL is fetched without our key.
   */
  async fetchResult(url: string, opts: { signal?: AbortSignal } = {}): Promise<string | null> {
    try {
      return await this.http.call({
        method: 'GET',
        path: '/result',
        absoluteUrl: url,
        schema: z.string(),
        idempotent: true,
        anonymous: true,
        text: true,
        signal: opts.signal,
      });
    } catch (e) {
      if (e instanceof VastApiError && e.status !== null) return null;
      throw e;
    }
  }
}
