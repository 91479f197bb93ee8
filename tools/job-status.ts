import { z } from 'zod';
import { jobsRuntime } from '../server/jobs/runtime.js';
import { requireJob, summaryLine, viewJob } from '../server/jobs/job-view.js';
import { visibleJobs } from '../server/identity/job-access.js';
import { defineTool } from './define-tool.js';
import { fenceUntrusted } from './untrusted.js';

const Event = z.object({ at: z.number(), from: z.string().nullable(), to: z.string(), reason: z.string() });
const View = z.object({
  job_id: z.string(),
  name: z.string(),
  state: z.string(),
  outcome: z.string().nullable(),
  attempt: z.number().nullable(),
  instance_id: z.number().nullable(),
  machine_id: z.number().nullable(),
  price_per_hour: z.number().nullable().describe('USD/hour'),
  spent_usd: z.number(),
  projected_usd: z.number(),
  max_cost_usd: z.number(),
  recoveries: z.number(),
  last_heartbeat: z.number().nullable().describe('epoch seconds'),
  last_checkpoint_step: z.number().nullable(),
  cancel_requested: z.boolean(),
  teardown_approval: z.enum(['granted', 'revoked', 'none']),
  waiting_for: z.string().nullable().describe('what waits for the user, if anything'),
  recent_events: z.array(Event),
});

export const jobStatusTool = defineTool({
  name: 'job_status',
  title: 'Job status',
  description:
    'One job (job_id) or every job: state, attempt, instance, spend so far and projected (USD), last heartbeat, last verified checkpoint, recoveries, recent transitions with their reasons, and what waits for the user. Read-only.',
  access: 'read',
  input: z.object({ job_id: z.string().max(64).optional().describe('omit to list every job') }).strict(),
  output: z.object({ jobs: z.array(View), supervisor_restarted: z.boolean().optional() }),
  async run({ job_id }, { deps }) {
    const runtime = jobsRuntime(deps);
    const { store } = runtime;
    const now = deps.now();
    // A supervisor that died (crash, reboot) is restarted here: the jobs it drives were already approved.
    const restarted = (await store.listJobs({ active: true })).length > 0 && (await runtime.ensureSupervisor()) === 'started';
    const visible = await visibleJobs(deps, job_id);
    const listed = (await store.listJobs()).filter(visible);
    const jobs = job_id
      ? [await viewJob(store, await requireJob(store, job_id), now)]
      : await Promise.all(listed.map((j) => viewJob(store, j, now, 3)));
    if (!jobs.length) return { data: { jobs }, text: 'No jobs yet. Submit one with job_submit.' };
    const lines = jobs.map(summaryLine);
    // Reasons may quote the platform or the instance (status messages, SSH errors): fenced.
    const events = job_id
      ? `\n${fenceUntrusted(jobs[0]!.recent_events.map((e) => `${e.from ?? '-'} → ${e.to}: ${e.reason}`).join('\n'), "the job's recent transitions")}`
      : '';
    return {
      data: { jobs, supervisor_restarted: restarted },
      text: `${lines.join('\n')}${events}${restarted ? '\nNo supervisor was running: one was started to continue the active jobs.' : ''}`,
    };
  },
});
