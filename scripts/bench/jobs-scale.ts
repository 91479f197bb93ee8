import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../sim/server.js';
import { JobdProcess } from '../campaign/jobs-jobd.js';
import { MAIN, serve } from './harness.js';

export interface JobsScale {
  jobs: number;
  running: number;
  ramp_s: number;
  window_s: number;
  peak_rss_mb: number;
  rate_limit_hits: number;
  calls_per_job_hour: number;
  /** Mean real seconds between two reads of one job's instance in the window (listings and single reads; the supervisor's effective pass). */
  read_interval_s: number | null;
  by_endpoint: Record<string, number>;
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const readStatus = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
};

/**
 * One `vast-mcp jobd` process (production poll, pacing on) driving `n` jobs at once. The rentals ramp up
 * with the simulator's rate limits off (on the platform, creates alone take n × 4.5 s); then the limits
 * go on and a steady window measures the supervisor's peak RSS, its rate-limit hits and its calls.
 */
export async function jobsAtScale(key: string, n: number, log: (s: string) => void): Promise<JobsScale> {
  const sim = await startSimulator({ apiKey: key, seed: 'bench-jobs-scale', offers: 6000, timeScale: 1, rateLimits: true, fidelity: { stateChangeSeconds: 0 } });
  sim.world.fidelity.rateLimits = false;
  // n jobs at once are a fleet: budgets sized for it (the shipped defaults stop at $10/h, rightly, for one user).
  const budgets = join(mkdtempSync(join(tmpdir(), 'vast-mcp-bench-budgets-')), 'profiles.yaml');
  writeFileSync(budgets, `profiles: {}\nbudgets:\n  total_usd: ${n * 100}\n  max_burn_per_hour: ${n * 5}\n`);
  const s = await serve(sim.url, key, { VAST_MCP_JOBD: 'off', VAST_MCP_PACING: 'off', VAST_MCP_CONFIG: budgets });
  const env = (extra: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    HOME: join(s.stateDir, '..'),
    VAST_API_KEY: key,
    VAST_MCP_COPY_ROOT: s.copyRoot,
    VAST_MCP_LOG_LEVEL: 'warn',
    VAST_MCP_JOBD_IDLE_EXIT_SECONDS: '600',
    VAST_MCP_CONFIG: budgets,
    ...extra,
  });
  const args = ['--state-dir', s.stateDir, '--api-url', sim.url];
  // The ramp is not what is measured: a fast supervisor without pacing rents them all while the limits are off.
  const ramp = new JobdProcess(MAIN, args, env({ VAST_MCP_JOBD_POLL_MS: '500', VAST_MCP_PACING: 'off' }), join(s.stateDir, 'jobd-ramp.log'));
  // The measured one: production poll and pacing (the defaults), started after the ramp (restart-safe).
  const jobd = new JobdProcess(MAIN, args, env({ VAST_MCP_JOBD_POLL_MS: process.env.BENCH_JOBS_POLL_MS ?? '15000' }), join(s.stateDir, 'jobd.log'));
  try {
    for (let i = 0; i < n; i++) {
      const args = {
        name: `scale-${i}`,
        image: 'ubuntu:22.04',
        disk_gb: 10,
        interruptible: i % 2 === 0,
        max_cost_usd: 20,
        max_hours: 1,
        command: 'sleep 100000',
        outputs: ['/workspace/out'],
        output_dir: `scale-${i}`,
        checkpoint_sync_seconds: 600,
      };
      const p = await s.call('job_submit', args);
      await s.call('job_submit', { ...args, grant_teardown_approval: true, confirmation_token: p.confirmation_token });
    }
    log(`  ${n} jobs submitted; supervisor starting`);
    const rampStart = Date.now();
    let running = 0;
    let waiting: string | null = null;
    while (Date.now() - rampStart < Number(process.env.BENCH_JOBS_RAMP_MS ?? 600_000)) {
      ramp.ensure();
      await pause(2000);
      const jobs = (await s.call('job_status', {})).jobs as { state: string; waiting_for: string | null }[];
      running = jobs.filter((j) => j.state === 'RUNNING').length;
      waiting = jobs.find((j) => j.state !== 'RUNNING' && j.waiting_for)?.waiting_for ?? null;
      if (running === n) break;
    }
    const ramp_s = Math.round((Date.now() - rampStart) / 1000);
    if (running < n && waiting) log(`  a job not running waits for: ${waiting.slice(0, 300)}`);
    log(`  ${running}/${n} running after ${ramp_s} s; steady window with rate limits on… (supervisor logs in ${s.stateDir})`);
    await ramp.stop();
    sim.world.fidelity.rateLimits = true;
    const hits0 = sim.rateLimitHits();
    const mark = sim.requests.length;
    const windowStart = Date.now();
    const windowMs = Number(process.env.BENCH_JOBS_WINDOW_MS ?? 90_000);
    while (Date.now() - windowStart < windowMs) {
      jobd.ensure();
      jobd.sampleRss(readStatus);
      await pause(1000);
    }
    const window_s = (Date.now() - windowStart) / 1000;
    const reqs = sim.requests.slice(mark);
    const calls = countCalls(reqs);
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    const reads = new Map<string, number>();
    for (const r of reqs) if (/^\/api\/v0\/instances\/\d+\/?$/.test(r.path) && r.method === 'GET') reads.set(r.path, (reads.get(r.path) ?? 0) + 1);
    // A listing reads every instance at once (the supervisor lists once per pass); single reads add to it.
    const listings = reqs.filter((r) => r.method === 'GET' && /^\/api\/v[01]\/instances\/?$/.test(r.path)).length;
    const meanReads = listings + (reads.size ? [...reads.values()].reduce((a, b) => a + b, 0) / Math.max(running, reads.size) : 0);
    const jobHours = (Math.max(1, running) * window_s) / 3600;
    return {
      jobs: n,
      running,
      ramp_s,
      window_s: Math.round(window_s),
      peak_rss_mb: Math.round(jobd.peakRssKb / 102.4) / 10,
      rate_limit_hits: sim.rateLimitHits() - hits0,
      calls_per_job_hour: Math.round(total / jobHours),
      read_interval_s: meanReads > 0 ? Math.round(window_s / meanReads) : null,
      by_endpoint: Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, Math.round(v / jobHours)])),
    };
  } finally {
    await ramp.stop();
    await jobd.stop();
    await s.close();
    await sim.close();
  }
}

/** API requests by endpoint family (ids folded), from the simulator's request log. */
export function countCalls(requests: { method: string; path: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    if (!r.path.startsWith('/api/')) continue;
    const k = /^\/api\/v0\/instances\/\d+\/?$/.test(r.path)
      ? `${r.method} instance`
      : `${r.method} ${r.path.replace(/\/\d+/g, '/{id}').replace(/\/$/, '')}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
