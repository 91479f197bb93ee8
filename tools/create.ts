import type { z } from 'zod';
import { findProfile, withProfile } from '../server/profiles/apply-profile.js';
import { budgetStatus, enforceLimits } from '../server/profiles/budget.js';
import type { Instance } from '../server/vast/schemas.js';
import { VastMcpError, InputError } from '../server/errors.js';
import { assertNoSecrets, packOnstart } from '../server/safety/onstart.js';
import { planOffers, quoteOffer, resolveRequest, unexpectedInstances, type Plan, type Resolved } from '../server/vast/create-plan.js';
import { confirmWithUser, redeemToken } from './confirm.js';
import { rentAll, waitAll } from './create-exec.js';
import { createDialog } from './create-dialog.js';
import { CreateInputSchema, CreateOutputSchema } from './create-schemas.js';
import { defineTool, type ToolContext } from './define-tool.js';

type CreateOutput = z.infer<typeof CreateOutputSchema>;
type Base = Pick<CreateOutput, 'proposal' | 'quote' | 'total_per_hour' | 'projected_total' | 'hours' | 'unexpected_instances' | 'notes'>;

interface Quoted {
  plan: Plan;
  resolved: Resolved;
}

/** Refuses when a quoted offer is still listed but its price moved since the user saw it. */
async function assertPricesUnchanged(ctx: ToolContext, q: Quoted): Promise<void> {
  const ids = q.plan.chosen.map((o) => o.id);
  const now = await ctx.deps.vast.searchOffers({ id: { in: ids }, type: q.resolved.interruptible ? 'bid' : 'on-demand', allocated_storage: q.resolved.disk_gb, limit: ids.length });
  for (const offer of now) {
    const quoted = q.plan.quote.find((x) => x.offer_id === offer.id);
    const current = quoteOffer(offer, q.resolved);
    if (quoted && Math.abs(current.total_per_hour - quoted.total_per_hour) > 1e-6) {
      throw new VastMcpError(`Refused: the quoted price changed for offer ${offer.id} ($${quoted.total_per_hour.toFixed(4)}/h → $${current.total_per_hour.toFixed(4)}/h), so the user has not approved this price. Nothing was rented. Call create again without confirmation_token for a fresh proposal.`, 'confirmation_refused');
    }
  }
}

export const createTool = defineTool({
  name: 'create',
  title: 'Rent GPU instance(s)',
  description:
    'Rent GPU instance(s) on Vast.ai. COSTS MONEY. Dialog-first: the first call never rents. If the client supports elicitation the server asks the user directly; ' +
    'otherwise it returns status "needs_confirmation" with the proposal (API key source, offer, image, disk_gb, count), full price and a confirmation_token. ' +
    'Show that proposal to the user and wait for their explicit answer; only if they say yes, call create again with the SAME arguments plus confirmation_token. ' +
    'If they say no, stop: a no is final. Changed arguments or prices invalidate the token. Defaults proposed when not given: gpu_name "RTX 4090", image pytorch/pytorch:latest, disk_gb 64, count 1. ' +
    'Note: stopping an instance later does not stop disk billing; only destroy does.',
  access: 'write',
  input: CreateInputSchema,
  output: CreateOutputSchema,
  async run(args, ctx) {
    const { deps } = ctx;
    const { confirmation_token, wait, wait_timeout_seconds, ...request } = args;
    if (args.api_key_source !== undefined && args.api_key_source !== deps.config.apiKeySource) {
      throw new InputError(`api_key_source "${args.api_key_source}" does not match the key this server uses ("${deps.config.apiKeySource}"). Set VAST_API_KEY (or the key file) and restart the server to change it.`);
    }
    if (args.onstart !== undefined) assertNoSecrets(args.onstart, (t) => deps.secrets.contains(t));
    // Everything here reaches the rented machine (its host can read it): never the API key, in any encoding.
    const leak = deps.secrets.findIn({ env: args.env, image: args.image, onstart: args.onstart });
    if (leak) throw new InputError(`${leak} contains your Vast API key (or an encoding or part of it). Nothing sent to an instance may carry it; the instance gets its own scoped key as CONTAINER_API_KEY.`);
    const onstart = args.onstart !== undefined ? packOnstart(args.onstart) : null;
    const profile = findProfile(deps.profiles, args.profile);
    const filters = withProfile({ query: args.query, gpu_name: args.gpu_name, num_gpus: args.num_gpus, min_gpu_ram_gb: args.min_gpu_ram_gb, max_dph: args.max_dph, min_reliability: args.min_reliability, geolocation: args.geolocation, min_direct_ports: args.min_direct_ports }, profile);
    const enforce = async (q: Quoted, instances?: Instance[]) => {
      const budget = await budgetStatus(deps, deps.profiles, instances ?? (await deps.vast.listInstances()));
      enforceLimits({ profileName: args.profile, profile, perInstance: q.plan.quote.map((x) => x.total_per_hour), totalPerHour: q.plan.total_per_hour, hours: profile?.max_hours ?? q.resolved.hours, budget, project: args.project });
    };
    // The approval covers what is rented and how; waiting is not part of it.
    const bound = { request, key_source: deps.config.apiKeySource };

    let quoted: Quoted;
    let base: Base;
    if (confirmation_token !== undefined) {
      quoted = redeemToken(ctx, 'create', bound, confirmation_token) as Quoted;
      await assertPricesUnchanged(ctx, quoted);
      await enforce(quoted);
      const dialog = createDialog(deps.config.apiKeySource, quoted.resolved, quoted.plan, [], []);
      base = { proposal: dialog.proposal, quote: quoted.plan.quote, total_per_hour: quoted.plan.total_per_hour, projected_total: quoted.plan.projected_total, hours: quoted.resolved.hours, unexpected_instances: [], notes: [] };
    } else {
      const resolved = resolveRequest({ ...args, hours: args.hours ?? profile?.max_hours, filters }, deps.config.bidMultiplier);
      const [instances, plan] = await Promise.all([deps.vast.listInstances(), planOffers(deps.vast, { ...args, filters }, resolved)]);
      await enforce({ plan, resolved }, instances);
      const unexpected = unexpectedInstances(instances, args.expected_instance_ids);
      const notes: string[] = [];
      const last = deps.session.lastOfferSearch;
      if (last && last.interruptible !== resolved.interruptible) {
        notes.push(resolved.interruptible
          ? 'The last offers search was on-demand, but this create is interruptible (bid): its instance can be paused without warning when outbid.'
          : 'The last offers search was for interruptible (bid) offers, but this create is on-demand: the on-demand price is higher than the bid prices shown.');
      }
      if (onstart?.packed) notes.push('onstart is over 16 KB: it is sent gzip+base64 and unpacked on the instance.');
      const dialog = createDialog(deps.config.apiKeySource, resolved, plan, unexpected, notes);
      base = { proposal: dialog.proposal, quote: plan.quote, total_per_hour: plan.total_per_hour, projected_total: plan.projected_total, hours: resolved.hours, unexpected_instances: unexpected, notes };
      const decision = await confirmWithUser(ctx, {
        kind: 'create',
        bound,
        token: undefined,
        payload: { plan, resolved } satisfies Quoted,
        message: dialog.message,
        yesField: 'confirm',
        yesTitle: `Rent ${resolved.count} instance(s) for $${plan.total_per_hour.toFixed(4)}/h`,
        extraFields: {
          image: { type: 'string', title: 'Docker image', default: resolved.image, maxLength: 1024 },
          disk_gb: { type: 'number', title: 'Disk (GB, cannot grow later)', default: resolved.disk_gb, minimum: 8, maximum: 100000 },
          count: { type: 'integer', title: 'Number of instances', default: resolved.count, minimum: 1, maximum: 8 },
        },
      });
      if (decision.decision === 'needs_confirmation') {
        deps.audit.record({ tool: 'create', action: 'propose', args: request, result: 'pending', detail: { total_per_hour: plan.total_per_hour } });
        return {
          data: { status: 'needs_confirmation' as const, ...base, questions: dialog.questions, confirmation_token: decision.token, expires_at: new Date(decision.expiresAt * 1000).toISOString(), instances: [] },
          text: `${dialog.message}\n\nNOTHING WAS RENTED. Show this proposal to the user and ask them to confirm or change it. If they say yes, call create again with the same arguments and confirmation_token "${decision.token}" (single use, expires in ${Math.round(deps.config.confirmationTtlSeconds / 60)} min). If they say no, stop.`,
        };
      }
      if (decision.decision === 'declined') {
        deps.audit.record({ tool: 'create', action: 'propose', args: request, result: 'declined', detail: { action: decision.action } });
        return { data: { status: 'declined' as const, ...base, instances: [] }, text: 'The user declined. Nothing was rented. Do not retry this request unless the user asks again.' };
      }
      quoted = { plan, resolved };
      const a = decision.answers;
      const edited = {
        image: typeof a.image === 'string' && a.image.trim() ? a.image.trim() : resolved.image,
        disk_gb: typeof a.disk_gb === 'number' ? a.disk_gb : resolved.disk_gb,
        count: typeof a.count === 'number' ? a.count : resolved.count,
      };
      if (edited.image !== resolved.image || edited.disk_gb !== resolved.disk_gb || edited.count !== resolved.count) {
        // The user edited the form: rent what they chose, priced for their values.
        const r2 = { ...resolved, ...edited };
        quoted = { plan: await planOffers(deps.vast, { ...args, filters, count: r2.count }, r2), resolved: r2 };
        await enforce(quoted);
      }
    }

    const rented = await rentAll(ctx, quoted.plan, quoted.resolved, { label: args.label, project: args.project, profile: args.profile }, args.env ?? {}, onstart?.onstart ?? null);
    if (wait) await waitAll(ctx, rented, wait_timeout_seconds ?? deps.config.waitTimeoutSeconds);
    const lines = rented.map((r) => `#${r.instance_id} "${r.label}" from offer ${r.offer_id} at $${r.total_per_hour.toFixed(4)}/h${r.reconciled ? ' (answer was lost; found by label, not rented twice)' : ''}${r.replaced_offer_id ? ` (offer ${r.replaced_offer_id} was taken meanwhile; replaced by this one on another machine, within 10% of the confirmed price)` : ''}${r.state ? ` — ${r.state}` : ''}${r.diagnosis ? `. ${r.diagnosis}` : ''}`);
    return {
      data: { status: 'created' as const, ...base, total_per_hour: Math.round(rented.reduce((s, r) => s + r.total_per_hour, 0) * 10000) / 10000, instances: rented },
      text: `Rented ${rented.length} instance(s):\n${lines.join('\n')}\nBilling has started (disk now, GPU once running). Stopping does not stop disk billing; only destroy does, after copying results off.`,
    };
  },
});
