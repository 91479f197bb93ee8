import type { JobdArgs, JobsArgs } from '../cli-args.js';
import { buildDeps } from '../build-deps.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { SecretRegistry } from '../secrets.js';
import { openJobStore } from '../store/open-store.js';
import { requireJob, summaryLine, viewJob } from './job-view.js';
import { settingsFromEnv } from './job-context.js';
import { SUPERVISOR_LEASE, Supervisor } from './supervisor.js';

/** `vast-mcp jobd`: drives the jobs until none is active for ten minutes (VAST_MCP_JOBD_IDLE_EXIT_SECONDS). Exits at once if another holds the lock. */
export async function runJobd(args: JobdArgs, out: (s: string) => void): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const secrets = new SecretRegistry();
  const { config, warnings } = loadConfig(args, process.env);
  const logger = createLogger(config.logLevel, secrets);
  for (const w of warnings) logger.warn(w);
  const deps = buildDeps(config, logger, secrets);
  const store = openJobStore(config, secrets);
  deps.jobs = { store, ensureSupervisor: async () => 'already_running' };
  const settings = settingsFromEnv(process.env);
  const sup = new Supervisor(deps, store, settings);
  if (!(await sup.acquireLock())) {
    out('another jobs supervisor holds the lock for this state directory; exiting\n');
    await store.close();
    return;
  }
  const stop = () => sup.stop();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  logger.info({ owner: sup.owner, stateDir: config.stateDir }, 'jobs supervisor started');
  try {
    await sup.run({ idleExitMs: settings.idleExitMs });
  } finally {
    await sup.releaseLock();
    await store.close();
    logger.info('jobs supervisor stopped');
  }
}

/** `vast-mcp jobs …`: the same views as the tools, for a person at a terminal. */
export async function runJobsCommand(args: JobsArgs, out: (s: string) => void): Promise<void> {
  const { config } = loadConfig({ stateDir: args.stateDir }, process.env);
  const store = openJobStore(config, new SecretRegistry());
  const now = Date.now() / 1000;
  try {
    if (args.action === 'list') {
      const jobs = await store.listJobs();
      const views = await Promise.all(jobs.map((j) => viewJob(store, j, now, 0)));
      out(views.length ? `${views.map(summaryLine).join('\n')}\n` : 'no jobs\n');
      return;
    }
    const job = await requireJob(store, args.jobId!);
    if (args.action === 'status') {
      const v = await viewJob(store, job, now, 20);
      out(
        `${summaryLine(v)}\n${v.recent_events.map((e) => `  ${new Date(e.at * 1000).toISOString()} ${e.from ?? '-'} → ${e.to}: ${e.reason}`).join('\n')}\n`,
      );
    } else if (args.action === 'logs') {
      const rows = await store.logs(job.id, args.cursor, args.limit);
      out(rows.map((r) => `[a${r.attempt}] ${r.line}\n`).join(''));
      if (rows.length === args.limit) out(`-- more: --cursor ${rows[rows.length - 1]!.seq}\n`);
    } else {
      const after = await store.requestCancel(job.id, now);
      const running = (await store.leaseHolder(SUPERVISOR_LEASE, now)) !== null;
      out(
        `cancel requested for ${job.id} (state ${after?.state}); the supervisor stops the worker, keeps a final checkpoint and tears down as approved${running ? '' : '. No supervisor is running: start one with `vast-mcp jobd`'}\n`,
      );
    }
  } finally {
    await store.close();
  }
}
