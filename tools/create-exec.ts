import { VastApiError, VastMcpError } from '../server/errors.js';
import { accountVast } from '../server/identity/caller-deps.js';
import { recordOutcome } from '../server/safety/mutation-record.js';
import { createBody, quoteOffer, type Plan, type QuoteLine, type Resolved } from '../server/vast/create-plan.js';
import { composeLabelBase, labelBase, uniqueLabel } from '../server/vast/labels.js';
import { rentReconciled } from '../server/vast/rent.js';
import type { Offer } from '../server/vast/schemas.js';
import type { ToolContext } from './define-tool.js';
import { waitWithinCall } from './lifecycle-common.js';

/** How much more than the confirmed price a replacement for a taken offer may cost. */
export const REPLACEMENT_TOLERANCE = 0.1;

export interface Rented {
  instance_id: number;
  label: string;
  offer_id: number;
  total_per_hour: number;
  reconciled: boolean;
  replaced_offer_id: number | null;
  state: string | null;
  diagnosis: string | null;
}

export interface RentResult {
  rented: Rented[];
  /** Earlier attempts that committed late: rented, billing, stopped by the server; the user decides. */
  duplicates: number[];
  /** Why renting stopped before every instance was rented (null when all were). */
  failure: VastMcpError | Error | null;
  /** Recording problems after the platform accepted a rental. */
  warnings: string[];
}

function offerTaken(e: unknown): boolean {
  return e instanceof VastApiError && (e.kind === 'not_found' || e.kind === 'gone') && (e.apiCode === 'no_such_ask' || e.apiCode === null);
}

/**
 * Rents every chosen offer; an offer taken meanwhile is replaced once by a spare on another machine at no
 * higher price (and the replacement passes `checkReplacement`, the same caps). Never throws once something
 * was rented: the failure is returned with what was rented, so the caller can say what is billing.
 */
export async function rentAll(
  ctx: ToolContext,
  plan: Plan,
  r: Resolved,
  naming: { label?: string; project?: string; profile?: string; approvedVia?: string; owner?: string },
  env: Record<string, string>,
  onstart: string | null,
  checkReplacement: (q: QuoteLine, o: Offer) => Promise<void> = async () => undefined,
): Promise<RentResult> {
  const { deps } = ctx;
  // An authenticated user owns the label (the agent's label follows it); on stdio the agent's label or the account name.
  const owner = naming.owner ?? naming.label ?? labelBase(await deps.vast.currentUser().catch(() => null));
  const base = composeLabelBase({ owner, label: naming.owner !== undefined ? naming.label : undefined, project: naming.project });
  const res: RentResult = { rented: [], duplicates: [], failure: null, warnings: [] };
  const usedMachines = new Set(plan.chosen.map((o) => o.machine_id));
  const spares = [...plan.spares];
  for (let i = 0; i < plan.chosen.length; i++) {
    let offer: Offer = plan.chosen[i]!;
    let quote: QuoteLine = plan.quote[i]!;
    const confirmedPrice = quote.total_per_hour;
    let replaced: number | null = null;
    const label = uniqueLabel(base);
    for (let attempt = 0; ; attempt++) {
      const body = createBody(offer, r, quote, { label, env, onstart });
      try {
        if (ctx.extra.signal?.aborted) throw new VastMcpError('The call was cancelled by the client; no further instance was rented.', 'cancelled');
        // The account's client: the rental and any duplicate it finds (and stops) have no owner here yet.
        const rent = await rentReconciled(accountVast(deps), offer.id, body, {
          logger: deps.logger,
          sleep: deps.sleep,
          windowMs: deps.config.createCommitWindowMs,
          signal: ctx.extra.signal,
          // The marker is on disk before the request goes out, so a late commit can be recognised later.
          onAttempt: (marker, n) =>
            deps.audit.record({ tool: 'create', action: 'rent_attempt', args: { offer_id: offer.id, label: marker, attempt: n }, result: 'pending' }),
        });
        const onPlatform = `instance #${rent.instanceId} "${rent.label}" was rented from offer ${offer.id} and is billing.`;
        const w = recordOutcome(
          deps.audit,
          {
            tool: 'create',
            action: 'rent',
            args: { offer_id: offer.id, ...body, label: rent.label, env: Object.keys(env) },
            result: 'ok',
            instance_id: rent.instanceId,
            detail: {
              reconciled: rent.reconciled,
              total_per_hour: quote.total_per_hour,
              profile: naming.profile ?? null,
              project: naming.project ?? null,
              duplicates: rent.duplicates,
              approved_via: naming.approvedVia ?? null,
            },
          },
          onPlatform,
        );
        if (w) res.warnings.push(w);
        res.duplicates.push(...rent.duplicates);
        res.rented.push({
          instance_id: rent.instanceId,
          label: rent.label,
          offer_id: offer.id,
          total_per_hour: quote.total_per_hour,
          reconciled: rent.reconciled,
          replaced_offer_id: replaced,
          state: null,
          diagnosis: null,
        });
        break;
      } catch (e) {
        recordOutcome(
          deps.audit,
          { tool: 'create', action: 'rent', args: { offer_id: offer.id, label }, result: 'error', detail: { error: (e as Error).message } },
          'the rent failed',
        );
        if (!offerTaken(e) || attempt >= 1) {
          res.failure = e as Error;
          return res;
        }
        // A replacement may cost a little more than what the user confirmed, never more than the tolerance or their max_dph.
        const ceiling = Math.min(confirmedPrice * (1 + REPLACEMENT_TOLERANCE), r.filters.max_dph ?? Infinity) + 1e-9;
        const next = spares.find((s) => !usedMachines.has(s.machine_id) && quoteOffer(s, r).total_per_hour <= ceiling);
        if (!next) {
          res.failure = new VastMcpError(
            `Offer ${offer.id} was taken before it could be rented, and no other machine matches within ${REPLACEMENT_TOLERANCE * 100}% of the confirmed $${confirmedPrice.toFixed(4)}/h. Call create again for a new quote.`,
            'offer_taken',
          );
          return res;
        }
        spares.splice(spares.indexOf(next), 1);
        usedMachines.add(next.machine_id);
        replaced = offer.id;
        offer = next;
        quote = quoteOffer(next, r);
        try {
          await checkReplacement(quote, next);
        } catch (ce) {
          res.failure = new VastMcpError(
            `Offer ${replaced} was taken; its replacement, offer ${next.id} at $${quote.total_per_hour.toFixed(4)}/h, is refused by the caps: ${(ce as Error).message}`,
            'offer_taken',
          );
          return res;
        }
        await ctx.progress(0, undefined, `Offer ${replaced} was taken; renting offer ${offer.id} on machine ${offer.machine_id} instead`);
      }
    }
  }
  return res;
}

export interface WaitSummary {
  /** Rented, not running yet, and the per-call limit ended the wait: resume with status + wait. */
  stillStarting: number[];
  /** The client cancelled the wait. */
  cancelled: boolean;
}

/**
 * `wait: true`: polls each new instance until running, within the caller's deadline and the per-call limit
 * (config.callSeconds), with progress notes. A cancel or the limit ends it with every instance still rented
 * and billing: the answer says how to keep waiting without renting again.
 */
export async function waitAll(ctx: ToolContext, rented: Rented[], timeoutSeconds: number): Promise<WaitSummary> {
  const { deps } = ctx;
  const startedAt = deps.monotonicMs();
  const summary: WaitSummary = { stillStarting: [], cancelled: false };
  for (const r of rented) {
    const spent = (deps.monotonicMs() - startedAt) / 1000;
    if (summary.cancelled || ctx.extra.signal?.aborted) {
      summary.cancelled = true;
      r.diagnosis = 'Not waited for: the client cancelled the call. It IS rented and billing; call status to see its state.';
      continue;
    }
    try {
      const w = await waitWithinCall(ctx, r.instance_id, Math.max(0, timeoutSeconds - spent), deps.config.callSeconds - spent);
      const result = w.result;
      r.state = result.instance?.actual_status ?? null;
      if (result.outcome === 'cancelled') {
        summary.cancelled = true;
        r.diagnosis = 'The client cancelled the wait. It IS rented and billing; call status to see its state.';
        deps.audit.record({
          tool: 'create',
          action: 'wait',
          args: { instance_id: r.instance_id },
          result: 'error',
          instance_id: r.instance_id,
          detail: { cancelled: true, left: 'rented and billing, not yet running' },
        });
        deps.logger.info({ tool: 'create', instance_id: r.instance_id }, 'wait cancelled by the client; the instance stays rented and billing');
      } else if (result.outcome === 'deadline' && w.cutByCallLimit) {
        summary.stillStarting.push(r.instance_id);
        r.diagnosis = `Still starting after ${Math.round(w.limitSeconds)} s (the per-call limit): ${result.diagnosis?.summary ?? 'no state yet.'} It IS rented and billing.`;
      } else if (result.outcome === 'deadline') {
        r.diagnosis = `Not running after the ${timeoutSeconds} s deadline: ${result.diagnosis?.summary ?? ''} It keeps billing disk; check status later or destroy it.`;
      } else {
        r.diagnosis = result.diagnosis?.summary ?? null;
      }
    } catch (e) {
      // The rental happened: a failed wait must never read as "nothing happened".
      r.diagnosis = `Waiting failed (${(e as Error).message}); the instance IS rented and billing. Call status to see its state; do not create again.`;
    }
  }
  return summary;
}
