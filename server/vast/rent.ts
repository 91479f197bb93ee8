import { VastApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CreateBody, VastClient } from './client.js';

export interface RentOutcome {
  instanceId: number;
  /** Found by its unique label after the create's answer was lost. */
  reconciled: boolean;
  attempts: number;
}

/** Could the create have taken effect although we got no success answer? */
function mayHaveCommitted(e: unknown): boolean {
  return e instanceof VastApiError && (e.outcomeUnknown || e.kind === 'server' || e.kind === 'timeout');
}

/** A create that was certainly not processed and is worth one more try after a pause. */
function certainlyNotProcessed(e: unknown): boolean {
  return e instanceof VastApiError && e.kind === 'rate_limited';
}

async function findByLabel(vast: VastClient, label: string, tries: number, sleep: (ms: number) => Promise<void>): Promise<number | null> {
  for (let i = 0; i < tries; i++) {
    const hit = (await vast.listInstances()).find((inst) => inst.label === label);
    if (hit) return hit.id;
    if (i + 1 < tries) await sleep(1000);
  }
  return null;
}

/**
 * Rents an offer without ever renting twice. The create is not safe to repeat, so when its answer
 * is lost (timeout, dropped connection, 5xx) the account's instances are listed and searched for the
 * request's unique label before any retry. At most one retry, and only after that check came back empty.
 */
export async function rentReconciled(vast: VastClient, offerId: number, body: CreateBody & { label: string }, logger: Logger, sleep: (ms: number) => Promise<void>): Promise<RentOutcome> {
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return { instanceId: await vast.createInstance(offerId, body), reconciled: false, attempts };
    } catch (e) {
      if (certainlyNotProcessed(e) && attempts < 2) {
        await sleep(5000);
        continue;
      }
      if (!mayHaveCommitted(e)) throw e;
      logger.warn({ offerId, label: body.label, attempts }, 'create answer lost: reconciling by label before any retry');
      const found = await findByLabel(vast, body.label, 2, sleep);
      if (found !== null) return { instanceId: found, reconciled: true, attempts };
      if (attempts >= 2) throw e;
    }
  }
}
