import type { z } from 'zod';
import { findProfile, withProfile } from '../server/profiles/apply-profile.js';
import { bindReservation, checkAndReserve, currentProfiles } from '../server/profiles/spend-gate.js';
import { attributeProject } from '../server/profiles/attribution.js';
import { identityOf } from '../server/identity/caller-deps.js';
import { userTag } from '../server/identity/caller.js';
import { composeLabelBase, labelUser } from '../server/vast/labels.js';
import { VastMcpError, InputError } from '../server/errors.js';
import { assertStateWritable } from '../server/safety/mutation-record.js';
import { assertNoSecrets, packOnstart } from '../server/safety/onstart.js';
import { visibleInstances } from '../server/identity/instance-access.js';
import { planOffers, quoteOffer, resolveRequest, unexpectedInstances, type Plan, type Resolved } from '../server/vast/create-plan.js';
import { assertNotCancelled, claimToken } from './confirm.js';
import { askCreate, type Quoted } from './create-ask.js';
import { rentAll, waitAll } from './create-exec.js';
import { createDialog, runDetails } from './create-dialog.js';
import { CreateInputSchema, CreateOutputSchema } from './create-schemas.js';
import { defineTool, type ToolContext } from './define-tool.js';
import { createdResult } from './create-result.js';

type CreateOutput = z.infer<typeof CreateOutputSchema>;
export type CreateBase = Pick<
  CreateOutput,
  'proposal' | 'quote' | 'total_per_hour' | 'projected_total' | 'hours' | 'unexpected_instances' | 'already_billing' | 'run' | 'notes'
>;

/** Refuses when a quoted offer is still listed but its price moved since the user saw it. */
async function assertPricesUnchanged(ctx: ToolContext, q: Quoted): Promise<void> {
  const ids = q.plan.chosen.map((o) => o.id);
  const now = await ctx.deps.vast.searchOffers({
    id: { in: ids },
    type: q.resolved.interruptible ? 'bid' : 'on-demand',
    allocated_storage: q.resolved.disk_gb,
    limit: ids.length,
  });
  for (const offer of now) {
    const quoted = q.plan.quote.find((x) => x.offer_id === offer.id);
    const current = quoteOffer(offer, q.resolved);
    if (quoted && Math.abs(current.total_per_hour - quoted.total_per_hour) > 1e-6) {
      throw new VastMcpError(
        `Refused: the quoted price changed for offer ${offer.id} ($${quoted.total_per_hour.toFixed(4)}/h → $${current.total_per_hour.toFixed(4)}/h), so the user has not approved this price. Nothing was rented. Call create again without confirmation_token for a fresh proposal.`,
        'confirmation_refused',
      );
    }
  }
}

export const createTool = defineTool({
  name: 'create',
  title: 'Rent GPU instance(s)',
  description:
    'Rent GPU instance(s) on Vast.ai. COSTS MONEY. Dialog-first: the first call never rents. If the client supports elicitation the server asks the user directly; ' +
    'otherwise it returns status "needs_confirmation" with the proposal (API key source, offer, image, disk_gb, count, onstart, ports, label), full price and a confirmation_token. ' +
    'Show that proposal to the user and wait for their explicit answer; only if they say yes, call create again with the SAME arguments plus confirmation_token. ' +
    'If they say no, stop: a no is final. With URL-mode elicitation the user approves on a local page instead; then call again with the same arguments. Changed arguments or prices invalidate the token. Defaults proposed when not given: gpu_name "RTX 4090", image pytorch/pytorch:latest, disk_gb 64, count 1. ' +
    'Note: stopping an instance later does not stop disk billing; only destroy does.',
  access: 'write',
  input: CreateInputSchema,
  output: CreateOutputSchema,
  async run(args, ctx) {
    const { deps } = ctx;
    const { confirmation_token, wait, wait_timeout_seconds, ...request } = args;
    if (args.api_key_source !== undefined && args.api_key_source !== deps.config.apiKeySource) {
      throw new InputError(
        `api_key_source "${args.api_key_source}" does not match the key this server uses ("${deps.config.apiKeySource}"). Set VAST_API_KEY (or the key file) and restart the server to change it.`,
      );
    }
    assertStateWritable(deps.config.stateDir, 'renting');
    if (args.onstart !== undefined) assertNoSecrets(args.onstart, (t) => deps.secrets.contains(t));
    // Everything here reaches the rented machine (its host can read it): never the API key, in any encoding.
    const leak = deps.secrets.findIn({ env: args.env, image: args.image, onstart: args.onstart });
    if (leak)
      throw new InputError(
        `${leak} contains your Vast API key (or an encoding or part of it). Nothing sent to an instance may carry it; the instance gets its own scoped key as CONTAINER_API_KEY.`,
      );
    const onstart = args.onstart !== undefined ? packOnstart(args.onstart) : null;
    // The file as it is now (an edit applies without a restart), and who this rental is for (server/identity).
    const file = currentProfiles(deps);
    const profile = findProfile(file, args.profile);
    const who = identityOf(deps);
    const project = attributeProject(file, who.caller, who.team, { project: args.project, profileName: args.profile, profile });
    const owner = who.caller.user !== null ? labelUser(who.caller.user, userTag) : undefined;
    const filters = withProfile(
      {
        query: args.query,
        gpu_name: args.gpu_name,
        num_gpus: args.num_gpus,
        min_gpu_ram_gb: args.min_gpu_ram_gb,
        max_dph: args.max_dph,
        min_reliability: args.min_reliability,
        geolocation: args.geolocation,
        min_direct_ports: args.min_direct_ports,
      },
      profile,
    );
    const run = runDetails(owner !== undefined ? composeLabelBase({ owner, label: args.label }) : args.label, project, args.onstart, args.env);
    /** Every cap, for a plan; `reserve` holds its projected cost against the budget across processes. */
    const spend = async (q: { plan: Plan; resolved: Resolved }, reserve: boolean) => {
      const req = {
        profileName: args.profile,
        profile,
        project,
        who: { user: who.caller.user, team: who.team, account: who.account },
        perInstance: q.plan.quote.map((x) => x.total_per_hour),
        totalPerHour: q.plan.total_per_hour,
        hours: q.resolved.hours,
        offers: q.plan.quote,
      };
      if (reserve) return (await checkAndReserve(deps, req)).reservation;
      await checkAndReserve(deps, { ...req, dryRun: true });
      return null;
    };
    // The approval covers what is rented and how; waiting is not part of it.
    // The project is bound too: it may come from the budgets file, and an edit there needs a new approval.
    const bound = { request, key_source: deps.config.apiKeySource, project: project ?? null };

    let quoted: Quoted;
    let base: CreateBase;
    let channel: 'elicitation' | 'url' | 'token';
    // A token is claimed here and used up just before the rental (a replica that dies in between loses it for a lease only).
    let commitToken: (() => Promise<void>) | null = null;
    const useUp = async () => {
      const c = commitToken;
      commitToken = null;
      await c?.();
    };
    if (confirmation_token !== undefined) {
      const held = await claimToken(ctx, 'create', bound, confirmation_token);
      commitToken = held.commit;
      quoted = held.payload as Quoted;
      // A refusal after the claim uses the token up, as before: it cannot be tried again.
      await assertPricesUnchanged(ctx, quoted).catch(async (e: unknown) => {
        await useUp().catch(() => undefined);
        throw e;
      });
      const dialog = createDialog(deps.config.apiKeySource, quoted.resolved, quoted.plan, [], [], [], run);
      base = {
        proposal: dialog.proposal,
        quote: quoted.plan.quote,
        total_per_hour: quoted.plan.total_per_hour,
        projected_total: quoted.plan.projected_total,
        hours: quoted.resolved.hours,
        unexpected_instances: [],
        already_billing: [],
        run,
        notes: [],
      };
      channel = 'token';
    } else {
      const resolved = resolveRequest({ ...args, hours: args.hours ?? profile?.max_hours, filters }, deps.config.bidMultiplier);
      const [instances, plan] = await Promise.all([deps.vast.listInstances(), planOffers(deps.vast, { ...args, filters }, resolved)]);
      await spend({ plan, resolved }, false);
      // The dialog lists what the caller may see; the spend caps above counted the whole account.
      const shown = await visibleInstances(deps, instances);
      const billing = unexpectedInstances(shown, undefined);
      const unexpected = unexpectedInstances(shown, args.expected_instance_ids);
      const notes: string[] = [];
      const last = deps.session.lastOfferSearch;
      if (last && last.interruptible !== resolved.interruptible) {
        notes.push(
          resolved.interruptible
            ? 'The last offers search was on-demand, but this create is interruptible (bid): its instance can be paused without warning when outbid.'
            : 'The last offers search was for interruptible (bid) offers, but this create is on-demand: the on-demand price is higher than the bid prices shown.',
        );
      }
      if (onstart?.packed) notes.push('onstart is over 16 KB: it is sent gzip+base64 and unpacked on the instance.');
      const make = (q: { plan: Plan; resolved: Resolved }) => {
        const dialog = createDialog(deps.config.apiKeySource, q.resolved, q.plan, billing, unexpected, notes, run);
        const b: CreateBase = {
          proposal: dialog.proposal,
          quote: q.plan.quote,
          total_per_hour: q.plan.total_per_hour,
          projected_total: q.plan.projected_total,
          hours: q.resolved.hours,
          unexpected_instances: unexpected,
          already_billing: billing,
          run,
          notes,
        };
        return { dialog, base: b };
      };
      const asked = await askCreate(ctx, {
        request,
        bound,
        first: { plan, resolved },
        make,
        replan: async (r2) => {
          const q2 = { plan: await planOffers(deps.vast, { ...args, filters, count: r2.count }, r2), resolved: r2 };
          await spend(q2, false);
          return q2;
        },
      });
      if (asked.kind === 'result') return asked.result;
      quoted = asked.quoted;
      base = asked.base;
      channel = asked.via;
    }

    let reservation: string | null = null;
    try {
      assertNotCancelled(ctx, 'renting');
      assertStateWritable(deps.config.stateDir, 'renting');
      reservation = await spend(quoted, true);
      await useUp();
    } catch (e) {
      await bindReservation(deps, reservation, []);
      await useUp().catch(() => undefined);
      throw e;
    }
    const checkReplacement = async (q: Plan['quote'][number]) => {
      const spare = { ...quoted, plan: { ...quoted.plan, quote: [q], total_per_hour: q.total_per_hour } };
      await spend(spare, false);
    };
    const res = await rentAll(
      ctx,
      quoted.plan,
      quoted.resolved,
      { label: args.label, project, profile: args.profile, approvedVia: channel, owner },
      args.env ?? {},
      onstart?.onstart ?? null,
      checkReplacement,
    );
    await bindReservation(deps, reservation, [...res.rented.map((r) => r.instance_id), ...res.duplicates]);
    if (!res.rented.length && !res.duplicates.length && res.failure) {
      const e = res.failure;
      const msg = `${e.message} Nothing was rented.`;
      throw e instanceof VastMcpError ? new VastMcpError(msg, e.code) : e;
    }
    const waited = wait && res.rented.length ? await waitAll(ctx, res.rented, wait_timeout_seconds ?? deps.config.waitTimeoutSeconds) : undefined;
    return createdResult(base, res, channel, waited);
  },
});
