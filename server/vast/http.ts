import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { VastApiError, type ApiErrorKind } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SecretRegistry } from '../secrets.js';
import { backoffDelay, shouldRetry, DEFAULT_RETRY, type RetryPolicy } from './retry-policy.js';
import { delayAfter429, Pacer, rateLimitDeadlineMs, retryAfterMs } from './pacing.js';
import { abortError, contractIn, describeZodIssue, encodeQuery, pause } from './http-support.js';

/** `Retry-After: 0` (or a date already past) still means "retry": after a short pause, never at once in a loop. */
const MIN_RETRY_AFTER_MS = 250;

export interface HttpConfig {
  baseUrl: string;
  apiKey: string | null;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  retry?: RetryPolicy;
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
  /** Space calls per endpoint as the platform requires (default on). */
  pacer?: Pacer | null;
}

export interface CallSpec<S extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  schema: S;
  /** Safe to repeat after a failure whose outcome is unknown. */
  idempotent: boolean;
  /** Answer HTTP 200 `{success:false}` as an error (most mutations). */
  rejectSoftFailure?: boolean;
  /** No auth needed (gpu names, log result URLs). */
  anonymous?: boolean;
  absoluteUrl?: string;
  /** Accept a text body (log result URLs). */
  text?: boolean;
  /** Aborts the request in flight and any pause before a retry (a caller's deadline). */
  signal?: AbortSignal;
}

/** The longest Retry-After a call waits out itself (a search window and some slack). */
const RETRY_AFTER_CAP_MS = 65_000;

const KEY_HELP =
  "Set VAST_API_KEY in the MCP server's environment (or write the key to ~/.config/vastai/vast_api_key, mode 0600); get a key at https://cloud.vast.ai/account/.";

export class VastHttp {
  private dispatcher: Dispatcher | null;
  private undici: typeof import('undici') | null = null;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private clockOffsetSeconds = 0;
  private readonly pacer: Pacer | null;

  constructor(
    private readonly config: HttpConfig,
    private readonly logger: Logger,
    private readonly secrets: SecretRegistry,
  ) {
    this.dispatcher = config.dispatcher ?? null;
    this.retry = config.retry ?? DEFAULT_RETRY;
    this.sleep = config.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.pacer = config.pacer === undefined ? new Pacer() : config.pacer;
    secrets.add(config.apiKey);
  }

  get baseUrl(): string {
    return this.config.baseUrl;
  }

  /** A shape surprise that was tolerated (lenient parsing): logged, never fatal. */
  warn(detail: Record<string, unknown>, message: string): void {
    this.logger.warn(detail, message);
  }

  /**
   * The API's clock in epoch seconds, from the Date header of its latest answer. Instance ages
   * and billing windows are computed against it, not against a possibly skewed local clock.
   */
  serverNow(): number {
    return Date.now() / 1000 + this.clockOffsetSeconds;
  }

  private noteServerDate(header: string | string[] | undefined): void {
    const text = Array.isArray(header) ? header[0] : header;
    const ms = text ? Date.parse(text) : NaN;
    // Date has one-second resolution: ignore offsets below that.
    if (Number.isFinite(ms)) {
      const offset = ms / 1000 - Date.now() / 1000;
      this.clockOffsetSeconds = Math.abs(offset) < 2 ? 0 : offset;
    }
  }

  async call<S extends z.ZodType>(spec: CallSpec<S>): Promise<z.infer<S>> {
    const endpoint = `${spec.method} ${spec.path.replace(/\/\d+(?=\/|$)/g, '/{id}')}`;
    if (!spec.anonymous && !this.config.apiKey) {
      throw new VastApiError(`No Vast API key is configured. ${KEY_HELP}`, 'no_api_key', null, endpoint);
    }
    const limited = { n: 0, since: 0, slept: 0 };
    for (let attempt = 0; ; attempt++) {
      if (spec.signal?.aborted) throw abortError(endpoint);
      const outcome = await this.once(spec, endpoint);
      if (outcome.ok) return outcome.value;
      const err = outcome.error;
      if (outcome.status === 429 && spec.idempotent) {
        await this.waitOut429(spec, endpoint, err, limited, outcome.retryAfterMs ?? null);
        attempt--; // 429s are bounded by their deadline, not by the attempt budget
        continue;
      }
      if (outcome.status === 429 && !spec.absoluteUrl) this.pacer?.penalize(spec.method, spec.path);
      const retry = shouldRetry({
        idempotent: spec.idempotent,
        status: outcome.status,
        networkCode: outcome.networkCode,
        attempt,
        policy: this.retry,
      });
      this.logger.warn({ endpoint, status: err.status, kind: err.kind, attempt, retry }, 'vast request failed');
      if (!retry) throw err;
      await pause(this.sleep, backoffDelay(attempt, this.retry), spec.signal, endpoint);
    }
  }

  /**
   * After a 429: wait as long as Retry-After says, else a backoff that suits the endpoint's limit
   * (pacing.ts), and give up once the limit's deadline would pass (a full search window: by then
   * the bucket refilled). The caller's signal ends the wait early.
   */
  private async waitOut429<S extends z.ZodType>(
    spec: CallSpec<S>,
    endpoint: string,
    err: VastApiError,
    limited: { n: number; since: number; slept: number },
    retryAfter: number | null,
  ): Promise<void> {
    if (limited.n === 0) limited.since = Date.now();
    // A Retry-After is honoured up to a minute-long window; longer asks end the call with that advice.
    const deadline = Math.max(rateLimitDeadlineMs(spec.method, spec.path), retryAfter === null ? 0 : RETRY_AFTER_CAP_MS);
    const used = Math.max(Date.now() - limited.since, limited.slept);
    // The last backoff is cut to the deadline, so the final try comes when the whole window has passed.
    const delay =
      retryAfter !== null ? Math.max(retryAfter, MIN_RETRY_AFTER_MS) : Math.min(delayAfter429(spec.method, spec.path, limited.n), deadline - used);
    limited.n++;
    this.logger.warn({ endpoint, status: 429, retry: limited.n, delayMs: delay }, 'vast rate limit: waiting');
    if (delay <= 0 || used + delay > deadline) {
      const advice = retryAfter !== null ? `the platform asks to wait ${Math.ceil(retryAfter / 1000)} s` : 'wait a minute';
      throw new VastApiError(
        `${err.message.replace(/ Wait a few seconds and try again\.$/, '')} It stayed limited for ${Math.round(used / 1000)} s over ${limited.n} tries; ${advice} before trying again.`,
        'rate_limited',
        429,
        endpoint,
      );
    }
    if (!spec.absoluteUrl) this.pacer?.penalize(spec.method, spec.path, delay);
    limited.slept += delay;
    await pause(this.sleep, delay, spec.signal, endpoint);
  }

  private async once<S extends z.ZodType>(
    spec: CallSpec<S>,
    endpoint: string,
  ): Promise<
    { ok: true; value: z.infer<S> } | { ok: false; error: VastApiError; status?: number; networkCode?: string; retryAfterMs?: number | null }
  > {
    const url = spec.absoluteUrl ?? `${this.config.baseUrl.replace(/\/+$/, '')}${spec.path}${encodeQuery(spec.query)}`;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'vast-mcp/0.1' };
    if (!spec.anonymous && this.config.apiKey) headers.authorization = `Bearer ${this.config.apiKey}`;
    let body: string | undefined;
    if (spec.method !== 'GET') {
      // The API expects a JSON body on every PUT/POST/DELETE, `{}` when empty.
      body = JSON.stringify(spec.body ?? {});
      headers['content-type'] = 'application/json';
    }
    if (!spec.absoluteUrl && this.pacer) await pause(() => this.pacer!.wait(spec.method, spec.path), 0, spec.signal, endpoint);
    const started = Date.now();
    let status: number;
    let text: string;
    let retryAfter: number | null = null;
    try {
      // undici is loaded on the first request, so start-up (and tools/list) does not pay for it.
      this.undici ??= await import('undici');
      this.dispatcher ??= new this.undici.Agent({
        connect: { timeout: this.config.connectTimeoutMs },
        headersTimeout: this.config.headersTimeoutMs,
        bodyTimeout: this.config.bodyTimeoutMs,
      });
      const res = await this.undici.request(url, { method: spec.method, headers, body, dispatcher: this.dispatcher, signal: spec.signal });
      status = res.statusCode;
      this.noteServerDate(res.headers.date);
      if (status === 429) retryAfter = retryAfterMs(res.headers['retry-after']);
      text = await res.body.text();
    } catch (e) {
      if (spec.signal?.aborted) return { ok: false, error: abortError(endpoint) };
      const code = (e as { code?: string }).code ?? 'UNKNOWN';
      const timeout = /TIMEOUT/i.test(code);
      const kind: ApiErrorKind = timeout ? 'timeout' : 'network';
      const what = timeout ? 'timed out' : `failed (${code})`;
      const unknown = spec.method !== 'GET' && code !== 'ECONNREFUSED' && code !== 'UND_ERR_CONNECT_TIMEOUT';
      const tail = unknown ? ' The request may or may not have taken effect.' : ' Check VAST_URL / --api-url and your network.';
      return { ok: false, networkCode: code, error: new VastApiError(`Vast API request ${endpoint} ${what}.${tail}`, kind, null, endpoint, unknown) };
    }
    this.logger.debug({ endpoint, status, ms: Date.now() - started }, 'vast request');
    if (spec.text && status === 200) return { ok: true, value: spec.schema.parse(text) };
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* non-JSON body (e.g. a plain-text 429) */
    }
    if (status < 200 || status >= 300) return { ok: false, status, retryAfterMs: retryAfter, error: this.httpError(status, json, text, endpoint) };
    const soft = json as { success?: unknown; msg?: unknown; error?: unknown } | undefined;
    if (spec.rejectSoftFailure && soft && soft.success === false) {
      return {
        ok: false,
        error: new VastApiError(
          `Vast refused ${endpoint}: ${this.safeMsg(soft.msg ?? soft.error)}`,
          'rejected',
          status,
          endpoint,
          false,
          typeof soft.error === 'string' ? soft.error : null,
          contractIn(json),
        ),
      };
    }
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      return {
        ok: false,
        error: new VastApiError(
          `Vast API returned an unexpected response for ${endpoint} (${describeZodIssue(parsed.error)}). The API may have changed; nothing was retried.`,
          'bad_response',
          status,
          endpoint,
        ),
      };
    }
    return { ok: true, value: parsed.data };
  }

  private safeMsg(v: unknown): string {
    const text = typeof v === 'string' ? v : v === undefined ? '(no detail message supplied)' : JSON.stringify(v);
    return this.secrets.scrub(text).slice(0, 500);
  }

  private httpError(status: number, json: unknown, text: string, endpoint: string): VastApiError {
    const body = (json ?? {}) as { msg?: unknown; error?: unknown; detail?: unknown };
    const code = typeof body.error === 'string' ? body.error : null;
    const msg = this.safeMsg(body.msg ?? body.detail ?? (text.trim() || undefined));
    const make = (kind: ApiErrorKind, message: string) => new VastApiError(message, kind, status, endpoint, false, code, contractIn(json));
    if (status === 401 || status === 403 || (status === 404 && /invalid user key/i.test(msg))) {
      return make('auth', `Vast rejected the API key (HTTP ${status}: ${msg}). ${KEY_HELP}`);
    }
    if (status === 429) return make('rate_limited', `Vast rate limit hit on ${endpoint} (${msg}). Wait a few seconds and try again.`);
    if (status === 410) return make('gone', `No longer available (${msg}). Search again for a current offer.`);
    if (status === 404) return make('not_found', `Not found (${msg}).`);
    if (status === 411 || code === 'insufficient_credit')
      return make('insufficient_credit', `Insufficient credit (${msg}). Add credit at https://cloud.vast.ai/billing/ and retry.`);
    if (status >= 500)
      return make('server', `Vast API error HTTP ${status} on ${endpoint} (${msg}). The platform is having trouble; try again shortly.`);
    return make('bad_request', `Vast refused ${endpoint} (HTTP ${status}: ${msg}).`);
  }
}
