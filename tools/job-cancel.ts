import { z } from 'zod';
import { isTerminal } from '../server/jobs/state-machine.js';
import { requireJob } from '../server/jobs/job-view.js';
import { jobsRuntime } from '../server/jobs/runtime.js';
import { assertJobAccess } from '../server/identity/job-access.js';
import { defineTool } from './define-tool.js';

export const jobCancelTool = defineTool({
  name: 'job_cancel',
  title: 'Cancel a job (or revoke its teardown approval)',
  description:
    'Cancels a job: the supervisor sends SIGTERM, waits the grace period, copies a final checkpoint and the outputs that exist (verified), then tears down as approved (a cancel during provisioning also catches a rental in flight). ' +
    'Idempotent: cancelling twice, or a finished job, changes nothing. With revoke_teardown_approval the standing approval is withdrawn instead: instances are then stopped, not destroyed.',
  access: 'write',
  input: z
    .object({
      job_id: z.string().max(64),
      revoke_teardown_approval: z.boolean().optional().describe('withdraw the standing teardown approval (the job keeps running)'),
    })
    .strict(),
  output: z.object({
    job_id: z.string(),
    state: z.string(),
    cancel_requested: z.boolean(),
    teardown_approval_revoked: z.boolean(),
    supervisor: z.string().nullable(),
  }),
  async run({ job_id, revoke_teardown_approval }, { deps }) {
    await assertJobAccess(deps, job_id, 'control');
    const runtime = jobsRuntime(deps);
    const job = await requireJob(runtime.store, job_id);
    if (revoke_teardown_approval) {
      const revoked = await runtime.store.revokeApproval(job_id, deps.now());
      return {
        data: { job_id, state: job.state, cancel_requested: job.cancel_requested, teardown_approval_revoked: revoked, supervisor: null },
        text: revoked
          ? `Teardown approval of job ${job_id} revoked: its instances will be stopped (disk still bills), never destroyed, until you decide.`
          : `Job ${job_id} had no standing teardown approval to revoke.`,
      };
    }
    if (isTerminal(job.state))
      return {
        data: { job_id, state: job.state, cancel_requested: job.cancel_requested, teardown_approval_revoked: false, supervisor: null },
        text: `Job ${job_id} already ended (${job.state}); nothing to cancel.`,
      };
    const after = (await runtime.store.requestCancel(job_id, deps.now()))!;
    const supervisor = await runtime.ensureSupervisor();
    return {
      data: { job_id, state: after.state, cancel_requested: true, teardown_approval_revoked: false, supervisor },
      text: `Cancel of job ${job_id} requested (state ${after.state}). The supervisor stops the worker with SIGTERM and a grace period, keeps a final checkpoint and the outputs, then tears down as approved. Follow it with job_status.`,
    };
  },
});
