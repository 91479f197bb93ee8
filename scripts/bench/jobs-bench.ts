import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { buildDeps } from '../../server/build-deps.js';
import { loadConfig } from '../../server/config.js';
import { createServer } from '../../server/create-server.js';
import { DEFAULT_SETTINGS } from '../../server/jobs/job-context.js';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { Supervisor } from '../../server/jobs/supervisor.js';
import { createLogger } from '../../server/logger.js';
import { SecretRegistry } from '../../server/secrets.js';
import { startSimulator } from '../../sim/server.js';
import type { Row } from './stats.js';
import { countCalls, jobsAtScale } from './jobs-scale.js';

const KEY = 'BENCH-JOBS-KEY-0123456789abcdef';
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const SETTLED = new Set(['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user']);

/** `npm run bench` rows for jobs: preemption detect/resume on the simulated clock, API calls per job-hour, 200 jobs at once. */
export async function jobsBench(rows: Row[], results: Record<string, unknown>, log: (s: string) => void): Promise<void> {
  // BENCH_JOBS_PART=scale runs only the concurrency part (it is the long one).
  if (process.env.BENCH_JOBS_PART !== 'scale') await preemptionRows(rows, results, log);
  log(`jobs 2/2 one supervisor, ${Number(process.env.BENCH_JOBS_N ?? 200)} concurrent jobs (rate limits on in steady state)…`);
  const scale = await jobsAtScale(KEY, Number(process.env.BENCH_JOBS_N ?? 200), log);
  results.jobs_scale = scale;
  rows.push({
    name: `jobs: ${scale.jobs} concurrent, supervisor peak RSS`,
    value: `${scale.peak_rss_mb} MB`,
    comparison: `${scale.running} running after ${scale.ramp_s} s ramp`,
    ratio: null,
    target: '≤ 200 MB',
    met: scale.peak_rss_mb <= 200 && scale.running === scale.jobs,
  });
  rows.push({
    name: `jobs: ${scale.jobs} concurrent, rate-limit hits`,
    value: String(scale.rate_limit_hits),
    comparison: `each instance read every ${scale.read_interval_s ?? '—'} s; ${scale.calls_per_job_hour} calls/job-h`,
    ratio: null,
    target: '0 hits, reads ≤ 60 s apart',
    met: scale.rate_limit_hits === 0 && scale.read_interval_s !== null && scale.read_interval_s <= 60,
  });
}

async function preemptionRows(rows: Row[], results: Record<string, unknown>, log: (s: string) => void): Promise<void> {
  log('jobs 1/2 preemption on the simulated clock (production timings: 15 s passes, 60 s confirmation)…');
  const pre = await preemption();
  results.jobs_preemption = pre;
  rows.push({
    name: 'jobs: preemption detected (simulated s)',
    value: `${pre.detect_s} s`,
    comparison: `confirm ${DEFAULT_SETTINGS.confirmSeconds} s + 2 polls`,
    ratio: null,
    target: '≤ 120 s',
    met: pre.detect_s !== null && pre.detect_s <= 120,
  });
  rows.push({
    name: 'jobs: resumed on another machine (simulated s)',
    value: `${pre.resume_s} s (from step ${pre.resumed_from_step})`,
    comparison: 'rent + boot + restore checkpoint',
    ratio: null,
    target: '≤ 300 s',
    met: pre.resume_s !== null && pre.resume_s <= 300,
  });
  const perAccount = jobsPerAccount(pre.by_endpoint);
  rows.push({
    name: 'jobs: API calls per job-hour (running)',
    value: `${pre.calls_per_job_hour}`,
    comparison: `${Object.entries(pre.by_endpoint)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; limits allow ${perAccount.jobs} such jobs per account (${perAccount.endpoint})`,
    ratio: null,
    target: 'one job within every limit',
    met: perAccount.jobs >= 1,
  });
}

/** Calls per hour per key the platform allows (sim/rate-limits.ts, DOC rate-limits-and-errors.mdx; OpenAPI x-rate-limit). */
const LIMITS_PER_HOUR: Record<string, number> = {
  'GET instance': 3600 / 2,
  'GET /api/v1/instances': 3600 / 1,
  'PUT /api/v0/asks/{id}': 3600 / 4.5,
  'PUT /api/v0/instances/{id}': 3600 / 1,
  'POST /api/v0/ssh': 3600 / 1,
  'POST /api/v0/bundles': 3600 / 6,
};

/** How many jobs like this one an account can run before some endpoint's limit is reached, and which endpoint. */
function jobsPerAccount(byEndpoint: Record<string, number>): { jobs: number; endpoint: string } {
  let best = { jobs: Number.POSITIVE_INFINITY, endpoint: 'none limited' };
  for (const [k, perJob] of Object.entries(byEndpoint)) {
    const limit = LIMITS_PER_HOUR[k];
    if (limit && perJob > 0 && limit / perJob < best.jobs) best = { jobs: Math.floor(limit / perJob), endpoint: k };
  }
  return best;
}

interface Preemption {
  detect_s: number | null;
  resume_s: number | null;
  resumed_from_step: number | null;
  calls_per_job_hour: number;
  instance_reads_per_job_hour: number;
  by_endpoint: Record<string, number>;
}

/** One interruptible job driven by an in-process supervisor with the production timings; the clock moves 15 s per pass. */
async function preemption(): Promise<Preemption> {
  const sim = await startSimulator({ apiKey: KEY, seed: 'bench-jobs', offers: 800, timeScale: 1, rateLimits: false, fidelity: { stateChangeSeconds: 0 } });
  const base = mkdtempSync(join(tmpdir(), 'vast-mcp-bench-jobs-'));
  const secrets = new SecretRegistry();
  const { config } = loadConfig({ apiUrl: sim.url, logLevel: 'warn', stateDir: join(base, 'state') }, {}, base);
  Object.assign(config, { apiKey: KEY, apiKeySource: 'env', copyRoot: join(base, 'copies'), pacing: false, pollMinMs: 20, pollMaxMs: 100 });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const deps = { ...buildDeps(config, createLogger('warn', secrets, sink), secrets, () => sim.world.now()), sleep: (ms: number) => pause(Math.min(ms, 20)) };
  const saved = process.env.VAST_MCP_JOBD;
  process.env.VAST_MCP_JOBD = 'off';
  const server = createServer(deps);
  const [ct, st] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'bench-jobs', version: '1' });
  await server.connect(st);
  await client.connect(ct);
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content).slice(0, 300)}`);
    return r.structuredContent as Record<string, any>;
  };
  try {
    const args = {
      name: 'bench-preempt',
      image: 'pytorch/pytorch:latest',
      gpu_name: 'RTX 4090',
      disk_gb: 20,
      interruptible: true,
      max_cost_usd: 50,
      max_hours: 2,
      command: 'vast-sim-trainer --steps 150 --every 10 --step-ms 100 --out /workspace/out --ckpt /workspace/checkpoints',
      outputs: ['/workspace/out/model.bin'],
      output_dir: 'bench-out',
      checkpoint_sync_seconds: 60,
      grace_seconds: 10,
    };
    const first = await call('job_submit', args);
    const id = (await call('job_submit', { ...args, grant_teardown_approval: true, confirmation_token: first.confirmation_token })).job_id as string;
    const sup = new Supervisor(deps, jobsRuntime(deps).store, DEFAULT_SETTINGS, 'bench-supervisor');
    // Awaited: the store (and so the lock) may be asynchronous.
    if (!(await sup.acquireLock())) throw new Error('supervisor lock held');
    const PASS_S = DEFAULT_SETTINGS.pollMs / 1000;
    let runningAt: number | null = null;
    let mark = 0;
    let t0: number | null = null;
    let window: { calls: Record<string, number>; hours: number } | null = null;
    let status: Record<string, any> = {};
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      await sup.runOnce();
      status = (await call('job_status', { job_id: id })).jobs[0];
      // Measured once the job trains again on its second machine (or ended some other way).
      if (SETTLED.has(status.state) || (t0 !== null && status.state === 'RUNNING' && status.attempt >= 2)) break;
      if (status.state === 'RUNNING' && runningAt === null) {
        runningAt = sim.world.now();
        mark = sim.requests.length;
      }
      if (t0 === null && status.state === 'RUNNING' && (status.last_checkpoint_step ?? 0) >= 40) {
        window = { calls: countCalls(sim.requests.slice(mark)), hours: (sim.world.now() - runningAt!) / 3600 };
        t0 = sim.world.now();
        await fetch(`${sim.url}/_sim/instances/${status.instance_id}/fault`, { method: 'POST', body: JSON.stringify({ kind: 'outbid' }) });
      }
      sim.world.clock.advance(PASS_S);
      await pause(30);
    }
    await sup.releaseLock();
    const events = ((await call('job_status', { job_id: id })).jobs[0].recent_events ?? []) as { at: number; to: string; reason: string }[];
    const recovering = events.find((e) => e.to === 'RECOVERING' && t0 !== null && e.at >= t0);
    const back = recovering ? events.find((e) => e.to === 'RUNNING' && e.at >= recovering.at) : undefined;
    const fromStep = back ? Number(/checkpoint step (\d+)/.exec(back.reason)?.[1] ?? NaN) : NaN;
    const total = Object.values(window?.calls ?? {}).reduce((a, b) => a + b, 0);
    const perHour = (n: number) => (window && window.hours > 0 ? Math.round(n / window.hours) : 0);
    return {
      detect_s: recovering && t0 !== null ? Math.round(recovering.at - t0) : null,
      resume_s: back && t0 !== null ? Math.round(back.at - t0) : null,
      resumed_from_step: Number.isFinite(fromStep) ? fromStep : null,
      calls_per_job_hour: perHour(total),
      instance_reads_per_job_hour: perHour(window?.calls['GET instance'] ?? 0),
      by_endpoint: Object.fromEntries(Object.entries(window?.calls ?? {}).map(([k, v]) => [k, perHour(v)])),
    };
  } finally {
    if (saved === undefined) delete process.env.VAST_MCP_JOBD;
    else process.env.VAST_MCP_JOBD = saved;
    await client.close();
    await server.close();
    await sim.close();
  }
}
