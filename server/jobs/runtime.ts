import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerDeps } from '../deps.js';
import type { JobStore } from '../store/job-store.js';
import { openJobStore } from '../store/open-store.js';
import { settingsFromEnv } from './job-context.js';
import { SUPERVISOR_LEASE, Supervisor } from './supervisor.js';

export type SupervisorMode = 'spawn' | 'inprocess' | 'off';

/** The jobs store and the way to make sure a supervisor drives it. */
export interface JobsRuntime {
  store: JobStore;
  /** Starts `vast-mcp jobd` (detached) unless one already holds the lock; in sandbox mode, in this process. */
  ensureSupervisor(): Promise<'already_running' | 'started' | 'in_process' | 'off'>;
}

export function supervisorMode(deps: ServerDeps, env: NodeJS.ProcessEnv = process.env): SupervisorMode {
  const v = env.VAST_MCP_JOBD;
  if (v === 'off' || v === 'inprocess' || v === 'spawn') return v;
  // The sandbox simulator lives in this process: a detached supervisor could not reach it.
  return deps.config.simulated ? 'inprocess' : 'spawn';
}

/** Opened on first use (no side effects at import or start-up) and kept on the deps. */
export function jobsRuntime(deps: ServerDeps): JobsRuntime {
  if (deps.jobs) return deps.jobs;
  const store = openJobStore(deps.config, deps.secrets);
  let inProcess: Supervisor | null = null;
  const runtime: JobsRuntime = {
    store,
    async ensureSupervisor() {
      if (await store.leaseHolder(SUPERVISOR_LEASE, Date.now() / 1000)) return 'already_running';
      const mode = supervisorMode(deps);
      if (mode === 'off') return 'off';
      if (mode === 'inprocess') {
        if (inProcess) return 'already_running';
        const settings = settingsFromEnv(process.env);
        const sup = new Supervisor(deps, store, settings);
        if (!(await sup.acquireLock())) return 'already_running';
        inProcess = sup;
        void sup
          .run({ idleExitMs: settings.idleExitMs })
          .catch((e: unknown) => deps.logger.error({ err: (e as Error).message }, 'in-process job supervisor stopped'))
          .finally(async () => {
            await sup.releaseLock().catch(() => undefined);
            inProcess = null;
          });
        return 'in_process';
      }
      const main = fileURLToPath(new URL('../main.js', import.meta.url));
      mkdirSync(deps.config.stateDir, { recursive: true, mode: 0o700 });
      const log = openSync(join(deps.config.stateDir, 'jobd.log'), 'a', 0o600);
      const args = [main, 'jobd', '--state-dir', deps.config.stateDir, '--api-url', deps.config.apiUrl, '--log-level', deps.config.logLevel];
      if (deps.config.profilesPath) args.push('--config', deps.config.profilesPath);
      // The key travels in the environment (VAST_API_KEY or the key file), never on the command line.
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', log], env: process.env });
      child.unref();
      closeSync(log);
      return 'started';
    },
  };
  deps.jobs = runtime;
  return runtime;
}
