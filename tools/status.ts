import { z } from 'zod';
import { accruedByInstance, expiryWarning, viewInstance } from '../server/vast/instance-view.js';
import { round4 } from '../server/vast/pricing.js';
import { defineTool } from './define-tool.js';
import { overdueInfo, profilesByInstance } from '../server/profiles/overdue.js';
import { visibleInstances } from '../server/identity/instance-access.js';
import { instanceOwners, sharedEntries } from '../server/profiles/attribution.js';
import { readableProfiles } from '../server/profiles/spend-gate.js';
import { checkLateRentals } from '../server/safety/orphans.js';
import { AuditUnreadable, type AuditEntry } from '../server/state/audit-log.js';
import { InputError } from '../server/errors.js';
import { waitForStatus } from './status-wait.js';

/** Instances whose latest lifecycle action through this server was a stop: their stop is the user's, not an interruption. */
function stoppedHere(entries: AuditEntry[]): Set<number> {
  const last = new Map<number, string>();
  for (const e of entries) {
    if (e.instance_id && e.result === 'ok' && ['rent', 'start', 'stop', 'reboot', 'bid'].includes(e.action)) last.set(e.instance_id, e.action);
  }
  return new Set([...last].filter(([, a]) => a === 'stop').map(([id]) => id));
}

const CostSchema = z.object({ total: z.number(), gpu: z.number(), disk: z.number(), bandwidth: z.number() }).describe('USD accrued so far');

export const InstanceViewSchema = z.object({
  id: z.number(),
  label: z.string().nullable(),
  actual_status: z.string().nullable().describe('What the instance is doing now (null = provisioning)'),
  intended_status: z.string().nullable().describe('What it was asked to do'),
  status_msg: z.string().nullable(),
  image: z.string().nullable(),
  gpu_name: z.string().nullable(),
  num_gpus: z.number().nullable(),
  disk_gb: z.number().nullable(),
  interruptible: z.boolean(),
  uptime_minutes: z.number().nullable(),
  age_hours: z.number().nullable(),
  dph_total: z.number().nullable().describe('USD/hour when running, disk included'),
  burn_per_hour: z.object({ total: z.number(), gpu: z.number(), disk: z.number() }).describe('USD/hour billed right now'),
  accrued_cost: CostSchema.nullable(),
  ssh: z.object({ proxy: z.string().nullable(), direct: z.string().nullable() }),
  diagnosis: z.object({ code: z.string(), summary: z.string() }),
  end_date: z.string().nullable().describe('Rental contract end (ISO time): the platform stops the instance then and may delete it 48 hours later'),
  hours_left: z.number().nullable().describe('Hours left on the rental contract (negative = ended)'),
  warnings: z.array(z.string()).describe('Things to act on soon (rental ending)'),
  profile: z.string().nullable().describe('Profile it was rented under (by this server)'),
  max_hours: z.number().nullable(),
  overdue: z.boolean().describe("Older than its profile's max duration: consider copying results and destroying"),
  rented_by: z
    .object({ user: z.string().nullable(), team: z.string().nullable() })
    .nullable()
    .describe('Who rented it through this server (audit log; null: rented elsewhere). Labels are not proof of ownership'),
  project: z.string().nullable().describe('Project its spend counts against (null: none, or rented elsewhere)'),
});

const input = z
  .object({
    instance_id: z.number().int().positive().optional().describe('One instance id; omit for all instances of the account'),
    wait: z
      .boolean()
      .optional()
      .describe('With instance_id: wait until it runs, up to the per-call limit (45 s by default), then answer; call again to keep waiting'),
  })
  .strict();

const output = z.object({
  instances: z.array(InstanceViewSchema),
  count: z.number(),
  total_burn_per_hour: z.number().describe('USD/hour across the listed instances, stopped disks included'),
  wait: z
    .object({
      outcome: z.enum(['running', 'stopped_or_failed', 'still_starting', 'cancelled']),
      waited_seconds: z.number(),
    })
    .optional()
    .describe('With wait: how the wait ended'),
  late_rentals: z
    .array(z.object({ instance_id: z.number(), label: z.string(), stopped: z.boolean() }))
    .optional()
    .describe('Duplicates from a create the platform committed late: ask the user'),
});

export const statusTool = defineTool({
  name: 'status',
  title: 'Instance status',
  description:
    'Show one instance or all instances of the account: actual vs intended state, status message, uptime, $/h billed now, cost accrued, SSH endpoints, ' +
    'time left on the rental contract, and a plain-language diagnosis (image pull failed or too slow, stuck scheduling for its GPU, interrupted/outbid, host offline or silent, exited, frozen, ' +
    'rental expired, stopped but still billing disk). Read-only and free. ' +
    'With instance_id and wait: true it waits until that instance runs, up to the per-call limit (45 s by default), then answers; call it again to keep waiting (never create again).',
  access: 'read',
  input,
  output,
  async run({ instance_id, wait }, ctx) {
    const { deps } = ctx;
    if (wait && instance_id === undefined) throw new InputError('wait needs instance_id: name the instance to wait for.');
    const waited = wait && instance_id !== undefined ? await waitForStatus(ctx, instance_id) : null;
    // The whole account goes to the duplicate scan; the caller is shown what the owner rule lets them see.
    const all = instance_id !== undefined ? [await deps.vast.requireInstance(instance_id)] : await deps.vast.listInstances();
    const list = await visibleInstances(deps, all);
    const now = deps.now();
    const since = Math.min(now - 86400, ...list.map((i) => i.start_date ?? now));
    const accrued = list.length ? await accruedByInstance(deps.vast, since, now + 60) : new Map();
    // Every replica's records: who rented each instance, under which profile, and who stopped it.
    // They only annotate this view (the owner rule already ran above): when the shared log is out of reach the
    // platform's view is still shown, annotated from this server's own records, and says so.
    let auditNote: string | null = null;
    const entries = await sharedEntries(deps.audit, 'who rented each instance and who stopped it', 'Nothing was changed').catch((e: unknown) => {
      if (!(e instanceof AuditUnreadable)) throw e;
      auditNote =
        "WARNING: the shared audit log cannot be read right now; who rented each instance, its profile and whether a stop was the user's come from this server's own records only.";
      try {
        return deps.audit.entries();
      } catch {
        return [];
      }
    });
    const byProfile = profilesByInstance(entries);
    const owners = instanceOwners(entries);
    const file = readableProfiles(deps);
    const stopped = stoppedHere(entries);
    const views = list.map((i) => {
      const v = viewInstance(i, now, accrued.get(i.id) ?? null, { stoppedHere: stopped.has(i.id) });
      const o = overdueInfo(file, byProfile.get(i.id), v.age_hours);
      const owner = owners.get(i.id);
      if (o.overdue)
        v.diagnosis = {
          ...v.diagnosis,
          summary: `${v.diagnosis.summary} OVERDUE: running ${v.age_hours} h, past profile "${o.profile}"'s ${o.max_hours} h; copy results off and destroy when the user agrees.`,
        };
      const expiry = expiryWarning(i, now);
      const rented_by = owner ? { user: owner.user, team: owner.team } : null;
      return { ...v, ...o, warnings: expiry ? [expiry] : [], rented_by, project: owner?.project ?? null };
    });
    const total = round4(views.reduce((s, v) => s + v.burn_per_hour.total, 0));
    const lines = views.map(
      (v) =>
        `#${v.id} ${v.label ?? '(no label)'}: ${v.actual_status ?? 'provisioning'} (intended ${v.intended_status ?? '?'}), ${v.num_gpus ?? '?'}x ${v.gpu_name ?? '?'}, ` +
        `now $${v.burn_per_hour.total.toFixed(4)}/h, accrued $${(v.accrued_cost?.total ?? 0).toFixed(4)}. ${v.diagnosis.summary}` +
        (v.hours_left !== null && v.hours_left > 0 ? ` Rental ends in ${v.hours_left} h.` : '') +
        (v.rented_by?.user ? ` Rented by ${v.rented_by.user}${v.project ? ` for project ${v.project}` : ''}.` : '') +
        v.warnings.map((w) => ` WARNING: ${w}`).join(''),
    );
    const late = await checkLateRentals(deps, all);
    const text =
      (views.length
        ? `${lines.join('\n')}\nTotal burn: $${total.toFixed(4)}/h${all.length > list.length ? " (yours and your team's; other users' instances are not shown)" : ''}.`
        : all.length > list.length
          ? "None of your or your team's instances are on this shared account; other users' instances are not shown (billing gives the account's burn)."
          : 'No instances on this account. Nothing is billing.') +
      (late.note ? `\n${late.note}` : '') +
      (auditNote ? `\n${auditNote}` : '');
    return {
      data: {
        instances: views,
        count: views.length,
        total_burn_per_hour: total,
        ...(late.late.length ? { late_rentals: late.late } : {}),
        ...(waited ? { wait: waited.wait } : {}),
      },
      text: waited ? `${waited.note}\n${text}` : text,
      ...(waited?.nextStep ? { nextStep: waited.nextStep } : {}),
    };
  },
});
