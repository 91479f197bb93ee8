import { z } from 'zod';
import { InputError } from '../server/errors.js';
import { accruedByInstance, expiryWarning } from '../server/vast/instance-view.js';
import { instanceBurnPerHour, round2, round4 } from '../server/vast/pricing.js';
import { defineTool } from './define-tool.js';
import { budgetStatus, projectedBurnPerHour, type LimitStatus } from '../server/profiles/budget.js';
import { readableProfiles } from '../server/profiles/spend-gate.js';
import { identityOf } from '../server/identity/caller-deps.js';
import { visibleInstances } from '../server/identity/instance-access.js';
import { checkLateRentals } from '../server/safety/orphans.js';
import { overdueInfo, profilesByInstance } from '../server/profiles/overdue.js';
import { sharedEntries } from '../server/profiles/attribution.js';

const DAY = 86400;

const input = z
  .object({
    from: z.string().optional().describe('Start of the range, ISO date or date-time (default: 7 days ago)'),
    to: z.string().optional().describe('End of the range, ISO date or date-time (default: now)'),
    projection_hours: z.number().positive().max(8760).optional().describe('Hours to project the current burn over (default 24)'),
  })
  .strict();

const Limit = z.object({
  total_usd: z.number().nullable(),
  spent_usd: z.number(),
  remaining_usd: z.number().nullable(),
  burn_per_hour: z.number(),
  max_burn_per_hour: z.number().nullable(),
});

const output = z.object({
  credit: z.number().describe('USD of credit left'),
  balance: z.number().nullable(),
  burn_per_hour: z
    .object({ total: z.number(), running_gpu: z.number(), disk: z.number() })
    .describe('USD/hour billed right now across all instances, stopped disks included'),
  projection: z.object({ hours: z.number(), cost: z.number(), credit_after: z.number(), hours_of_credit_left: z.number().nullable() }),
  per_instance: z.array(
    z.object({ id: z.number(), label: z.string().nullable(), state: z.string().nullable(), burn_per_hour: z.number(), accrued: z.number() }),
  ),
  range: z.object({ from: z.string(), to: z.string() }),
  invoices: z.array(
    z.object({ when: z.string(), type: z.string(), instance_id: z.number().nullable(), description: z.string().nullable(), amount: z.number() }),
  ),
  totals: z.object({ charges: z.number(), payments: z.number() }),
  truncated_invoices: z.number().describe('Invoice lines left out of the list (totals still include them)'),
  budget: z
    .object({
      since: z.string(),
      total_usd: z.number().nullable(),
      spent_usd: z.number(),
      remaining_usd: z.number().nullable(),
      burn_per_hour: z.number(),
      max_burn_per_hour: z.number().nullable(),
      projects: z.record(z.string(), Limit),
      user: Limit.extend({ name: z.string() })
        .optional()
        .describe("The authenticated caller's own spend (their rentals per the audit log) and limits"),
      team: Limit.extend({ name: z.string() }).optional().describe("The caller's team: spend and limits"),
    })
    .describe('Budgets from the profiles file: used/remaining and burn vs cap'),
  overdue: z.array(z.object({ id: z.number(), profile: z.string().nullable(), max_hours: z.number().nullable(), age_hours: z.number() })),
  warnings: z
    .array(z.string())
    .describe('Rental contracts ending within a day (or ended): the platform stops them then and may delete them 48 h later'),
  late_rentals: z
    .array(z.object({ instance_id: z.number(), label: z.string(), stopped: z.boolean() }))
    .optional()
    .describe('Duplicates from a create the platform committed late: ask the user'),
});

const MAX_LINES = 200;

function parseWhen(text: string | undefined, field: string, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InputError(`${field} ${JSON.stringify(text)} is not a date: use ISO form like 2026-11-01 or 2026-11-01T12:00:00Z.`);
  return ms / 1000;
}

export const billingTool = defineTool({
  name: 'billing',
  title: 'Billing and burn rate',
  description:
    'Account credit, the burn rate right now ($/h across all instances: running GPUs plus the disks of stopped instances, which keep billing), ' +
    'cost accrued per instance, invoice/charge lines with totals over a date range (default last 7 days), and a projection (default 24 h). Read-only and free.',
  access: 'read',
  input,
  output,
  async run(args, { deps }) {
    parseWhen(args.to, 'to', 0);
    parseWhen(args.from, 'from', 0);
    // Credit, burn and budgets are the account's; the instances listed are those the caller may see.
    const [user, all] = await Promise.all([deps.vast.currentUser(), deps.vast.listInstances()]);
    const instances = await visibleInstances(deps, all);
    // Read the clock after talking to the API: it follows the platform's Date header.
    const now = deps.now();
    const to = parseWhen(args.to, 'to', now);
    const from = parseWhen(args.from, 'from', to - 7 * DAY);
    if (from >= to) throw new InputError(`from (${new Date(from * 1000).toISOString()}) must be before to (${new Date(to * 1000).toISOString()}).`);
    const hours = args.projection_hours ?? 24;
    const invoices = await deps.vast.invoices(from, to);
    const since = Math.min(from, ...instances.map((i) => i.start_date ?? now));
    const accrued = await accruedByInstance(deps.vast, since, now + 60);
    let gpu = 0;
    let disk = 0;
    for (const i of all) {
      const b = instanceBurnPerHour(i);
      gpu += b.gpu;
      disk += b.disk;
    }
    const perInstance = instances.map((i) => ({
      id: i.id,
      label: i.label ?? null,
      state: i.actual_status ?? null,
      burn_per_hour: instanceBurnPerHour(i).total,
      accrued: accrued.get(i.id)?.total ?? 0,
    }));
    const burn = round4(gpu + disk);
    const lines = invoices
      .filter((v) => v.amount !== 0)
      .sort((a, b) => a.timestamp - b.timestamp)
      .map((v) => ({
        when: new Date(v.timestamp * 1000).toISOString(),
        type: v.type,
        instance_id: v.instance_id ?? null,
        description: v.description ?? null,
        amount: round4(v.amount),
      }));
    const charges = round4(lines.filter((l) => l.type === 'charge').reduce((s, l) => s + l.amount, 0));
    const payments = round2(lines.filter((l) => l.type === 'payment').reduce((s, l) => s + l.amount, 0));
    // The totals are the account's; the lines of instances the caller may not see are left out.
    const seen = new Set(
      (
        await visibleInstances(
          deps,
          lines.flatMap((l) => (l.instance_id !== null ? [{ id: l.instance_id }] : [])),
        )
      ).map((i) => i.id),
    );
    const shownLines = lines.filter((l) => l.instance_id === null || seen.has(l.instance_id));
    const hiddenLines = lines.length - shownLines.length;
    // Projected at what each instance pays once running (an instance still loading bills its GPU soon).
    const projected = round2(all.reduce((a, i) => a + projectedBurnPerHour(i), 0) * hours);
    const data = {
      credit: round2(user.credit),
      balance: user.balance ?? null,
      burn_per_hour: { total: burn, running_gpu: round4(gpu), disk: round4(disk) },
      projection: {
        hours,
        cost: projected,
        credit_after: round2(user.credit - projected),
        hours_of_credit_left: burn > 0 ? Math.round((user.credit / burn) * 10) / 10 : null,
      },
      per_instance: perInstance,
      range: { from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString() },
      invoices: shownLines.slice(-MAX_LINES),
      totals: { charges, payments },
      truncated_invoices: Math.max(0, shownLines.length - MAX_LINES),
    };
    const file = readableProfiles(deps);
    const who = identityOf(deps);
    const budget = await budgetStatus(deps, file, all, { user: who.caller.user, team: who.team, account: who.account });
    const byProfile = profilesByInstance(await sharedEntries(deps.audit, 'which profile each instance was rented under', 'Nothing was changed'));
    const overdue = instances.flatMap((i) => {
      const age = i.start_date ? Math.round(((now - i.start_date) / 3600) * 100) / 100 : null;
      const o = overdueInfo(file, byProfile.get(i.id), age);
      return o.overdue && age !== null ? [{ id: i.id, profile: o.profile, max_hours: o.max_hours, age_hours: age }] : [];
    });
    const stoppedDisks = all.filter((i) => i.actual_status !== 'running').length;
    const text =
      `Credit $${data.credit.toFixed(2)}. Burning $${burn.toFixed(4)}/h now (GPUs $${data.burn_per_hour.running_gpu.toFixed(4)}/h, disks $${data.burn_per_hour.disk.toFixed(4)}/h` +
      `${stoppedDisks ? `, including ${stoppedDisks} instance(s) not running whose disk still bills` : ''}). ` +
      `Next ${hours} h ≈ $${projected.toFixed(2)}${data.projection.hours_of_credit_left !== null ? `; credit lasts ≈ ${data.projection.hours_of_credit_left} h at this rate` : ''}.\n` +
      `${data.range.from} → ${data.range.to}: charges $${charges.toFixed(4)}, payments $${payments.toFixed(2)} (${lines.length} line(s)` +
      `${hiddenLines ? `; ${hiddenLines} of other users' instances not listed` : ''}).` +
      (perInstance.length
        ? `\n${perInstance.map((p) => `#${p.id} ${p.label ?? ''} ${p.state ?? 'provisioning'}: $${p.burn_per_hour.toFixed(4)}/h, accrued $${p.accrued.toFixed(4)}`).join('\n')}`
        : '');
    const mine = (label: string, s: (LimitStatus & { name: string }) | undefined) =>
      s
        ? `\n${label} (${s.name}): spent $${s.spent_usd.toFixed(2)}${s.total_usd !== null ? ` of $${s.total_usd.toFixed(2)} ($${s.remaining_usd!.toFixed(2)} left)` : ''}; burn $${s.burn_per_hour.toFixed(4)}/h${s.max_burn_per_hour !== null ? ` vs cap $${s.max_burn_per_hour.toFixed(2)}/h` : ''}.`
        : '';
    const budgetText =
      mine('You', budget.user) +
      mine('Your team', budget.team) +
      `\nBudget since ${budget.since.slice(0, 10)}: spent $${budget.spent_usd.toFixed(2)}${budget.total_usd !== null ? ` of $${budget.total_usd.toFixed(2)} ($${budget.remaining_usd!.toFixed(2)} left)` : ''}; burn $${budget.burn_per_hour.toFixed(4)}/h${budget.max_burn_per_hour !== null ? ` vs cap $${budget.max_burn_per_hour.toFixed(2)}/h` : ''}.` +
      (overdue.length
        ? `\nOverdue (past their profile's max duration): ${overdue.map((o) => `#${o.id} ${o.age_hours} h > ${o.max_hours} h (${o.profile})`).join(', ')}.`
        : '');
    const warnings = instances.map((i) => expiryWarning(i, now)).filter((w): w is string => w !== null);
    if (user.has_billing === false && all.length)
      warnings.push('No payment card on file: at $0 every instance stops and, after a short grace, is destroyed with its disk (Vast billing docs).');
    const warnText = warnings.length ? `\n${warnings.map((w) => `WARNING: ${w}`).join('\n')}` : '';
    const late = await checkLateRentals(deps, all);
    return {
      data: { ...data, budget, overdue, warnings, ...(late.late.length ? { late_rentals: late.late } : {}) },
      text: text + budgetText + warnText + (late.note ? `\n${late.note}` : ''),
    };
  },
});
