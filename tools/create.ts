import { InputError } from '../server/errors.js';
import { assertNoSecrets, packOnstart } from '../server/safety/onstart.js';
import { planOffers, resolveRequest, unexpectedInstances, type Plan, type Resolved } from '../server/vast/create-plan.js';
import { confirmWithUser } from './confirm.js';
import { rentAll, waitAll } from './create-exec.js';
import { defineTool } from './define-tool.js';
import { createDialog } from './create-dialog.js';
import { CreateInputSchema, CreateOutputSchema } from './create-schemas.js';

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
    const { confirmation_token, ...request } = args;
    if (args.api_key_source !== undefined && args.api_key_source !== deps.config.apiKeySource) {
      throw new InputError(`api_key_source "${args.api_key_source}" does not match the key this server uses ("${deps.config.apiKeySource}"). Set VAST_API_KEY (or the key file) and restart the server to change it.`);
    }
    if (args.onstart !== undefined) assertNoSecrets(args.onstart, (t) => deps.secrets.contains(t));
    const onstart = args.onstart !== undefined ? packOnstart(args.onstart) : null;
    const filters = { query: args.query, gpu_name: args.gpu_name, num_gpus: args.num_gpus, min_gpu_ram_gb: args.min_gpu_ram_gb, max_dph: args.max_dph, min_reliability: args.min_reliability, geolocation: args.geolocation, min_direct_ports: args.min_direct_ports };
    let resolved: Resolved = resolveRequest({ ...args, filters }, deps.config.bidMultiplier);
    const [instances, plan0] = await Promise.all([deps.vast.listInstances(), planOffers(deps.vast, { ...args, filters }, resolved)]);
    let plan: Plan = plan0;
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
    const decision = await confirmWithUser(ctx, {
      kind: 'create',
      bound: { request, key_source: deps.config.apiKeySource, quote: plan.quote.map((q) => [q.offer_id, q.total_per_hour, q.bid_per_hour]) },
      token: confirmation_token,
      message: dialog.message,
      yesField: 'confirm',
      yesTitle: `Rent ${resolved.count} instance(s) for $${plan.total_per_hour.toFixed(4)}/h`,
      extraFields: {
        image: { type: 'string', title: 'Docker image', default: resolved.image, maxLength: 1024 },
        disk_gb: { type: 'number', title: 'Disk (GB, cannot grow later)', default: resolved.disk_gb, minimum: 8, maximum: 100000 },
        count: { type: 'integer', title: 'Number of instances', default: resolved.count, minimum: 1, maximum: 8 },
      },
    });
    const base = { proposal: dialog.proposal, quote: plan.quote, total_per_hour: plan.total_per_hour, projected_total: plan.projected_total, hours: resolved.hours, unexpected_instances: unexpected, notes };
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
    const a = decision.answers;
    if (typeof a.image === 'string' || typeof a.disk_gb === 'number' || typeof a.count === 'number') {
      const changed = (typeof a.image === 'string' && a.image !== resolved.image) || (typeof a.disk_gb === 'number' && a.disk_gb !== resolved.disk_gb) || (typeof a.count === 'number' && a.count !== resolved.count);
      if (changed) {
        // The user edited the form: rent what they chose, re-priced for their values.
        resolved = { ...resolved, image: typeof a.image === 'string' && a.image.trim() ? a.image.trim() : resolved.image, disk_gb: typeof a.disk_gb === 'number' ? a.disk_gb : resolved.disk_gb, count: typeof a.count === 'number' ? a.count : resolved.count };
        plan = await planOffers(deps.vast, { ...args, filters, count: resolved.count }, resolved);
      }
    }
    const rented = await rentAll(ctx, plan, resolved, args.label, args.env ?? {}, onstart?.onstart ?? null);
    if (args.wait) await waitAll(ctx, rented, args.wait_timeout_seconds ?? deps.config.waitTimeoutSeconds);
    const lines = rented.map((r) => `#${r.instance_id} "${r.label}" from offer ${r.offer_id} at $${r.total_per_hour.toFixed(4)}/h${r.reconciled ? ' (answer was lost; found by label, not rented twice)' : ''}${r.replaced_offer_id ? ` (offer ${r.replaced_offer_id} was taken meanwhile; replaced by this one on another machine, within 10% of the confirmed price)` : ''}${r.state ? ` — ${r.state}` : ''}${r.diagnosis ? `. ${r.diagnosis}` : ''}`);
    return {
      data: { status: 'created' as const, ...base, total_per_hour: Math.round(rented.reduce((s, r) => s + r.total_per_hour, 0) * 10000) / 10000, instances: rented },
      text: `Rented ${rented.length} instance(s):\n${lines.join('\n')}\nBilling has started (disk now, GPU once running). Stopping does not stop disk billing; only destroy does, after copying results off.`,
    };
  },
});
