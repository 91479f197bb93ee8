import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { approvalBinding } from '../server/jobs/finish.js';
import { JobSpecSchema, validateSpec, withPins } from '../server/jobs/job-spec.js';
import { quoteJob, type JobQuote } from '../server/jobs/plan.js';
import { assertS3Access } from '../server/identity/s3-access.js';
import { jobsRuntime } from '../server/jobs/runtime.js';
import type { JobSpec } from '../server/jobs/job-spec.js';
import { confirmWithUser, pendingApproval } from './confirm.js';
import { checkJobSpend } from '../server/profiles/job-spend.js';
import { bindReservation } from '../server/profiles/spend-gate.js';
import { defineTool } from './define-tool.js';

const Input = JobSpecSchema.extend({
  grant_teardown_approval: z
    .boolean()
    .optional()
    .describe(
      "the user's answer to the standing teardown approval question (token flow): true lets the job destroy its instances once every output is copied and verified",
    ),
  confirmation_token: z.string().optional().describe('from a previous needs_confirmation answer, after the user said yes'),
}).strict();

const Output = z.object({
  status: z.enum(['needs_confirmation', 'declined', 'submitted']),
  job_id: z.string().nullable(),
  offer_id: z.number(),
  gpu: z.string(),
  total_per_hour: z.number().describe('USD/hour, disk included, bandwidth extra'),
  projected_total: z.number().describe('USD for max_hours'),
  max_cost_usd: z.number(),
  hours_within_cap: z.number(),
  teardown_approval: z.boolean(),
  notes: z.array(z.string()),
  questions: z.array(z.string()).optional(),
  confirmation_token: z.string().optional(),
  approval_url: z.string().optional().describe('The local approval page the user has open (URL-mode elicitation)'),
  expires_at: z.string().optional(),
  supervisor: z.string().optional(),
});

function inputLines(spec: JobSpec, q: JobQuote): string[] {
  return spec.inputs.map((i, n) => {
    const pin = q.pins[n];
    const what = !pin
      ? `${i.local_path}`
      : pin.kind === 'object'
        ? `${i.s3_uri} (${pin.size} bytes, pinned)`
        : `${i.s3_uri} (${pin.objects} objects, ${pin.bytes} bytes, pinned)`;
    return `  Input: ${what} → ${i.remote_path} (verified by sha256${pin ? '; the job fails if it changes before it is placed' : ''})`;
  });
}

function proposal(spec: JobSpec, q: JobQuote): string {
  return [
    `Proposal: job "${spec.name}"`,
    `  Command: ${spec.command.slice(0, 300)}`,
    `  Image ${spec.image}, disk ${spec.disk_gb} GB, ${spec.interruptible ? 'interruptible (bid)' : 'on-demand'}`,
    `  Now: offer ${q.offer.offer_id}, ${q.offer.num_gpus}x ${q.offer.gpu_name}, $${q.total_per_hour.toFixed(4)}/h (GPU $${q.offer.gpu_per_hour.toFixed(4)} + disk $${q.offer.disk_per_hour.toFixed(4)}; bandwidth $${q.offer.bandwidth_down_per_gb}/GB down extra)`,
    `  Cap: $${spec.max_cost_usd} (hard; about ${q.hours_within_cap} h at this price). Projected for ${spec.max_hours} h: $${q.projected_total.toFixed(2)}`,
    `  Checkpoints: ${spec.checkpoint_dir}, copied off and verified every ${spec.checkpoint_sync_seconds} s; up to ${spec.max_recoveries} recoveries on other machines`,
    ...inputLines(spec, q),
    `  Outputs: ${spec.outputs.join(', ')} → ${[spec.output_dir, spec.output_s3_uri].filter((d) => d !== undefined).join(' and ')} (verified by sha256)`,
    `  At the end: ${spec.on_end}${spec.on_end === 'destroy' ? ' — only with your standing teardown approval and every output verified; without it the instance is stopped (disk still bills) and the job waits for you' : spec.on_end === 'stop' ? ' (disk still bills until destroyed)' : ' (keeps billing)'}`,
    ...q.notes.map((n) => `  Note: ${n}`),
  ].join('\n');
}

export const jobSubmitTool = defineTool({
  name: 'job_submit',
  title: 'Submit a GPU job',
  description:
    'Submit a long-running GPU job that a background supervisor drives to the end: rent, run under a worker agent, copy checkpoints off, recover from preemption on another machine, ' +
    "copy outputs back verified, tear down. Inputs come from the copy root (local_path) or S3 (s3_uri: one object, or a prefix ending in /, read with this server's credentials and pinned at submit: the job fails if one changes before it is placed). COSTS MONEY up to max_cost_usd (required hard cap). Dialog-first like create: the first call never rents; it asks the user (elicitation) or returns " +
    "needs_confirmation with a confirmation_token and two questions (run it? grant the standing teardown approval?). Call again with the same arguments, grant_teardown_approval set to the user's answer and the token. A no is final.",
  access: 'write',
  input: Input,
  output: Output,
  async run(args, ctx) {
    const { deps } = ctx;
    const { confirmation_token, grant_teardown_approval, ...raw } = args;
    const spec = JobSpecSchema.parse(raw);
    validateSpec(spec, (t) => deps.secrets.contains(t));
    for (const i of spec.inputs) if (i.s3_uri !== undefined) assertS3Access(deps, i.s3_uri, 'The input');
    if (spec.output_s3_uri !== undefined) assertS3Access(deps, spec.output_s3_uri, 'output_s3_uri');
    const q = await quoteJob(deps, spec);
    // Stored (and bound to the user's yes) with the S3 versions seen now: a change before the yes is a different job.
    const stored = withPins(spec, q.pins);
    const { project } = await checkJobSpend(deps, spec, q);
    const wantsApproval = spec.on_end === 'destroy';
    // The token covers what runs and what it may cost; the approval answer comes with the user's yes.
    const bound = { spec: stored, key_source: deps.config.apiKeySource };
    const message = proposal(spec, q);
    const base = {
      offer_id: q.offer.offer_id,
      gpu: `${q.offer.num_gpus}x ${q.offer.gpu_name}`,
      total_per_hour: q.total_per_hour,
      projected_total: q.projected_total,
      max_cost_usd: spec.max_cost_usd,
      hours_within_cap: q.hours_within_cap,
      notes: q.notes,
    };
    const decision = await confirmWithUser(ctx, {
      kind: 'job_submit',
      bound,
      token: confirmation_token,
      message,
      yesField: 'confirm',
      yesTitle: `Run job "${spec.name}" with a $${spec.max_cost_usd} cap`,
      extraFields: wantsApproval
        ? {
            teardown_approval: {
              type: 'boolean',
              title: "Standing approval: destroy the job's instances once every output is copied and verified",
              default: false,
            },
          }
        : undefined,
    });
    if (decision.decision === 'needs_confirmation') {
      const questions = [`Run job "${spec.name}" at about $${q.total_per_hour.toFixed(4)}/h with a hard cap of $${spec.max_cost_usd}?`];
      if (wantsApproval)
        questions.push(
          'Grant the standing teardown approval (destroy instances only after every output is copied and verified)? Without it they are stopped and the disk keeps billing until you decide.',
        );
      const pending = pendingApproval(decision, 'job_submit', 'confirmation_token');
      return {
        data: { status: 'needs_confirmation' as const, job_id: null, ...base, teardown_approval: false, questions, ...pending.fields },
        text: `${message}\n\nNOTHING WAS RENTED. Ask the user:\n${questions.map((x) => `- ${x}`).join('\n')}\nPass grant_teardown_approval set to their answer. ${pending.instruction}`,
      };
    }
    if (decision.decision === 'declined') {
      return {
        data: { status: 'declined' as const, job_id: null, ...base, teardown_approval: false },
        text: 'The user declined. Nothing was submitted or rented. Do not retry unless the user asks again.',
      };
    }
    const approval =
      wantsApproval && (decision.via === 'elicitation' ? decision.answers.teardown_approval === true : grant_teardown_approval === true);
    const runtime = jobsRuntime(deps);
    // Checked again and reserved under the lock: another submit or create may have spent since the proposal.
    const { reservation } = await checkJobSpend(deps, spec, q, true);
    const id = randomBytes(4).toString('hex');
    // Recorded before the job exists, so its supervisor can never rent before its owner and reservation are known.
    const record = (result: 'ok' | 'error', extra: Record<string, unknown> = {}) =>
      deps.audit.record({
        tool: 'job_submit',
        action: 'submit',
        args: { job: id, name: spec.name, max_cost_usd: spec.max_cost_usd, env: Object.keys(spec.env) },
        result,
        detail: { teardown_approval: approval, project, ...(reservation ? { reservation } : {}), ...extra },
      });
    try {
      record('ok');
      await runtime.store.createJob({ id, name: spec.name, spec: stored, now: deps.now() }, approval ? { binding: approvalBinding(stored) } : null);
    } catch (e) {
      await bindReservation(deps, reservation, []);
      try {
        record('error', { error: (e as Error).message });
      } catch {
        /* the state directory failed: the error below says so */
      }
      throw e;
    }
    const supervisor = await runtime.ensureSupervisor();
    return {
      data: { status: 'submitted' as const, job_id: id, ...base, teardown_approval: approval, supervisor },
      text: `Job ${id} ("${spec.name}") submitted with a $${spec.max_cost_usd} cap; the supervisor (${supervisor.replace('_', ' ')}) rents and runs it. ${approval ? 'Standing teardown approval granted: instances are destroyed only after every output is verified.' : 'No teardown approval: at the end instances are stopped (disk still bills) and the job waits for you.'} Follow it with job_status and job_logs.`,
    };
  },
});
