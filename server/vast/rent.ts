import { VastApiError, VastMcpError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CreateBody, VastClient } from './client.js';
import { retryDelayAfter429 } from './pacing.js';

export interface RentOutcome {
  instanceId: number;
  /** The label the rented instance carries (the marker of the attempt that committed). */
  label: string;
  /** Found by its unique label (or in an error body) after the create's answer was lost. */
  reconciled: boolean;
  attempts: number;
  /** Instances from earlier attempts that committed late: rented and billing, stopped, for the user to decide. */
  duplicates: number[];
}

export interface RentOptions {
  logger: Logger;
  sleep: (ms: number) => Promise<void>;
  /** How long after a lost answer the platform may still commit the create; look-ups are spread over it. */
  windowMs: number;
  /** Called with each attempt's label BEFORE its request goes out (records the marker durably). */
  onAttempt?: (label: string, attempt: number) => void;
  /** The caller's cancellation: checked before every retry, so a cancelled call never rents afterwards. */
  signal?: AbortSignal;
}

/** Could the create have taken effect although we got no success answer? */
function mayHaveCommitted(e: unknown): boolean {
  return e instanceof VastApiError && (e.outcomeUnknown || e.kind === 'server' || e.kind === 'timeout' || e.kind === 'network');
}

/** A create that was certainly not processed and is worth one more try after a pause. */
function certainlyNotProcessed(e: unknown): boolean {
  return e instanceof VastApiError && e.kind === 'rate_limited';
}

/**
 * A rental the platform reports inside an error answer (`new_contract` in the body of a failed create,
 * as seen with `vast.py create instance` on a soft failure). Reads a typed field when the HTTP client
 * provides one, else the body or message text.
 */
export function contractInError(e: unknown): number | null {
  if (!e || typeof e !== 'object') return null;
  const typed = (e as { newContract?: unknown }).newContract;
  if (typeof typed === 'number' && Number.isInteger(typed) && typed > 0) return typed;
  for (const text of [(e as { body?: unknown }).body, (e as Error).message]) {
    if (typeof text !== 'string') continue;
    const m = /"?new_contract"?\s*[:=]\s*(\d{1,12})/.exec(text);
    if (m) return Number(m[1]);
  }
  return null;
}

/** The marker of attempt n: attempt 1 is the label itself, later ones add `-rN` so each attempt is told apart. */
export function attemptLabel(label: string, attempt: number): string {
  return attempt === 1 ? label : `${label}-r${attempt}`;
}

async function findByLabels(vast: VastClient, labels: string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const inst of await vast.listInstances()) if (inst.label && labels.includes(inst.label)) found.set(inst.label, inst.id);
  return found;
}

/** Looks for an attempt's marker several times spread over the commit window (a late commit shows up within it). */
async function lookOverWindow(vast: VastClient, labels: string[], o: RentOptions): Promise<Map<string, number>> {
  const LOOKS = 6;
  for (let i = 0; i < LOOKS; i++) {
    const found = await findByLabels(vast, labels).catch(() => new Map<string, number>());
    if (found.size) return found;
    if (i + 1 < LOOKS) await o.sleep(o.windowMs / (LOOKS - 1));
  }
  return new Map();
}

/**
 * Rents an offer without ever renting twice. The create is not safe to repeat, so when its answer is
 * lost (timeout, dropped connection, 5xx) the account is searched for the attempt's unique marker over a
 * window longer than the platform's commit latency before any retry. A retry carries a new marker; if an
 * earlier attempt commits anyway, it is found, stopped and returned as a duplicate.
 */
export async function rentReconciled(vast: VastClient, offerId: number, body: CreateBody & { label: string }, o: RentOptions): Promise<RentOutcome> {
  const tried: string[] = [];
  let rateLimited = 0;
  for (let attempt = 1; ; attempt++) {
    const label = attemptLabel(body.label, attempt);
    if (o.signal?.aborted && (attempt > 1 || rateLimited > 0))
      throw new VastMcpError(
        tried.length
          ? 'The call was cancelled before the create was retried. Its earlier try was looked up over the commit window and not found; should it commit late, the next status or billing call finds it by its marker and reports it.'
          : 'The call was cancelled before the create was retried; the platform had refused the first request (rate limited), so nothing was rented.',
        'cancelled',
      );
    tried.push(label);
    o.onAttempt?.(label, attempt);
    try {
      const id = await vast.createInstance(offerId, { ...body, label });
      return { instanceId: id, label, reconciled: false, attempts: attempt, duplicates: await lateDuplicates(vast, tried.slice(0, -1), o) };
    } catch (e) {
      const inBody = contractInError(e);
      if (inBody !== null)
        return { instanceId: inBody, label, reconciled: true, attempts: attempt, duplicates: await lateDuplicates(vast, tried.slice(0, -1), o) };
      if (certainlyNotProcessed(e) && rateLimited++ < 1) {
        tried.pop();
        attempt--;
        // Create carries `penalty: 12` (create_instance.yaml): a retry inside it is refused again.
        await o.sleep(retryDelayAfter429('PUT', `/api/v0/asks/${offerId}/`));
        continue;
      }
      if (!mayHaveCommitted(e)) throw e;
      o.logger.warn({ offerId, label, attempt }, 'create answer lost: reconciling by label before any retry');
      const found = await lookOverWindow(vast, tried, o);
      if (found.size) {
        const [first, ...rest] = [...found.entries()];
        const dups = await stopAll(
          vast,
          rest.map(([, id]) => id),
          o.logger,
        );
        return { instanceId: first![1], label: first![0], reconciled: true, attempts: attempt, duplicates: dups };
      }
      if (attempt >= 2) throw e;
    }
  }
}

/** Markers of abandoned attempts that committed after all: stop them (disk keeps billing) and report. */
async function lateDuplicates(vast: VastClient, labels: string[], o: RentOptions): Promise<number[]> {
  if (!labels.length) return [];
  const found = await findByLabels(vast, labels).catch(() => new Map<string, number>());
  return stopAll(vast, [...found.values()], o.logger);
}

async function stopAll(vast: VastClient, ids: number[], logger: Logger): Promise<number[]> {
  for (const id of ids) {
    await vast.setState(id, 'stopped').catch((e) => logger.error({ id, err: (e as Error).message }, 'could not stop a duplicate rental'));
  }
  return ids;
}
