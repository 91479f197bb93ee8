import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ORPHAN_SCAN_EVERY_SECONDS } from '../../server/jobs/orphan-scan.js';
import { createRng, type Rng } from '../../sim/rng.js';
import { startSimulator, type RunningSimulator } from '../../sim/server.js';
import { checkJobsInvariants, countViolations, type JobsHistory, type JobsInvariantCounts, type Violations } from './jobs-invariants.js';
import { JobdProcess } from './jobs-jobd.js';
import { gpuBilling, jobOfLabel, jobSpend, sampleInstances, secretsOnInstances, stepOnDisk } from './jobs-observe.js';
import { collectJobs, type JobStatusView, type Submitted, submitJob } from './jobs-tools.js';

export interface JobsCampaignOptions {
  jobs: number;
  seed: string;
  /** Path of the built server entry (dist/server/main.js). */
  serverMain?: string;
  /** Simulated seconds per real second. */
  timeScale?: number;
  /** Real ms before unsettled jobs are given up on. */
  deadlineMs?: number;
  onProgress?: (line: string) => void;
}

export interface JobsCampaignSummary {
  seed: string;
  jobs: number;
  seconds: number;
  states: Record<string, number>;
  faults: Record<string, number>;
  supervisor: { starts: number; kills: number; longest_gap_ms: number; peak_rss_mb: number };
  invariants: JobsInvariantCounts;
  violations: Partial<Violations>;
  /** How much each invariant had to judge (a 0 over nothing proves nothing). */
  judged: { recoveries: number; jobs_at_cap: number; outputs: number; destroys: number; instance_samples: number };
  /** Each job's end: state, recoveries and what waits for the user. */
  ended: string[];
  ok: boolean;
}

const KEY = 'JOBS-CAMPAIGN-KEY-4b1d-5ecret-7731';
const TICK_MS = 250;
const POLL_MS = 250;
const STEP_MS = 300;
const EVERY = 5;
const SYNC_SECONDS = 10;
/** A supervisor pass over a handful of jobs (SSH probes, a checkpoint copy), real seconds: part of the allowed sync lag. */
const PASS_ALLOWANCE_S = 1.5;
/**
 * After every job settled, keep the supervisor running this long (real ms): late commits land and the orphan scan,
 * which looks every ORPHAN_SCAN_EVERY_SECONDS of platform time, has one full period plus a pass to find them.
 */
const tailMs = (T: number) => Math.max(8000, (ORPHAN_SCAN_EVERY_SECONDS / T + PASS_ALLOWANCE_S) * 1000);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SETTLED = new Set(['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user']);

/**
 * `npm run campaign -- --jobs`: many jobs through the MCP tools, driven by a `vast-mcp jobd` child that is
 * SIGKILLed at random instants and started again, under random faults (outbid, host offline, instance
 * exited, SSH drops, late create commits, 5xx). Ground truth comes from the simulator.
 */
export async function runJobsCampaign(o: JobsCampaignOptions): Promise<JobsCampaignSummary> {
  const started = Date.now();
  // Money accrues on the platform clock while the supervisor's work takes real time: a high scale would make
  // every real second of copying cost that many platform seconds. 4× keeps waits short and spend close to real.
  const T = o.timeScale ?? 4;
  const rng = createRng(`jobs-campaign:${o.seed}`);
  const sim = await startSimulator({
    apiKey: KEY,
    seed: o.seed,
    offers: 1200,
    timeScale: T,
    faults: '500:0.005,503:0.01,latency:0.01',
    rateLimits: false,
    startingCredit: 1_000_000,
  });
  const base = mkdtempSync(join(tmpdir(), 'vast-mcp-jobs-campaign-'));
  const stateDir = join(base, 'state');
  const copyRoot = join(base, 'copies');
  const profiles = join(base, 'profiles.yaml');
  writeFileSync(profiles, 'profiles: {}\nbudgets: {}\n');
  const main = o.serverMain ?? fileURLToPath(new URL('../../server/main.js', import.meta.url));
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: base,
    VAST_URL: sim.url,
    VAST_API_KEY: KEY,
    VAST_MCP_STATE_DIR: stateDir,
    VAST_MCP_COPY_ROOT: copyRoot,
    VAST_MCP_CONFIG: profiles,
    VAST_MCP_PACING: 'off',
    VAST_MCP_LOG_LEVEL: 'info',
    VAST_MCP_JOBD: 'off',
    VAST_MCP_CREATE_COMMIT_WINDOW_MS: '500',
    VAST_MCP_JOBD_POLL_MS: String(POLL_MS),
    VAST_MCP_JOBD_CONFIRM_SECONDS: '10',
    VAST_MCP_JOBD_HEARTBEAT_STALE_SECONDS: '3000',
    VAST_MCP_JOBD_LEASE_SECONDS: '2',
    VAST_MCP_JOBD_IDLE_EXIT_SECONDS: '600',
  };
  const client = new Client({ name: 'jobs-campaign', version: '1' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [main], env, stderr: 'pipe' }));
  const jobd = new JobdProcess(main, ['--state-dir', stateDir, '--api-url', sim.url], env, join(base, 'jobd.log'));
  const faults: Record<string, number> = {};
  const fired = (k: string) => (faults[k] = (faults[k] ?? 0) + 1);
  const history: JobsHistory = { samples: [], jobs: [], destroyed: [], left: [], secrets_found: [], overlap_grace_seconds: 0 };
  const secrets = new Set<string>();
  try {
    const submitted: Submitted[] = [];
    for (let i = 0; i < o.jobs; i++) submitted.push(await submitJob(client, rng, i, { stepMs: STEP_MS, every: EVERY, syncSeconds: SYNC_SECONDS }));
    o.onProgress?.(`submitted ${submitted.length} jobs (state directory ${stateDir}: vast-mcp jobs status ID --state-dir …)`);
    await drive({ o, sim, rng, client, jobd, submitted, history, secrets, fired, T });
    await jobd.stop();
    await collectJobs({ client, sim, submitted, history, copyRoot, stateDir, stepMs: STEP_MS, T, jobd, passAllowanceS: PASS_ALLOWANCE_S });
    for (const f of sim.faults.fired) fired(f.kind === 'error' ? `http_${f.status}` : f.kind === 'delay' ? 'latency' : f.kind);
  } finally {
    await jobd.stop();
    await client.close().catch(() => undefined);
  }
  for (const s of secretsOnInstances(sim, KEY)) secrets.add(s);
  if (jobd.stderr.includes(KEY)) secrets.add('the supervisor log');
  history.secrets_found = [...secrets];
  for (const i of sim.world.instances.values()) {
    if (i.destroyedAt === null) history.left.push({ id: i.id, job_id: jobOfLabel(i.label), gpu_billing: gpuBilling(i) });
  }
  // Orphans live until the scan's next period; two rentals of a job may overlap that long, never longer.
  history.overlap_grace_seconds = ORPHAN_SCAN_EVERY_SECONDS + 10 + T * (POLL_MS / 1000 + PASS_ALLOWANCE_S + jobd.longestGapMs / 1000);
  await sim.close();
  const violations = checkJobsInvariants(history);
  const invariants = countViolations(violations);
  const states: Record<string, number> = {};
  for (const j of history.jobs) states[j.state] = (states[j.state] ?? 0) + 1;
  return {
    seed: o.seed,
    jobs: o.jobs,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    states,
    faults,
    supervisor: { starts: jobd.starts, kills: jobd.kills, longest_gap_ms: jobd.longestGapMs, peak_rss_mb: Math.round(jobd.peakRssKb / 102.4) / 10 },
    invariants,
    judged: {
      recoveries: history.jobs.reduce(
        (n, j) => n + j.faults.filter((f) => f.supervisor_up && j.started_attempts.some((a) => a > f.attempt)).length,
        0,
      ),
      jobs_at_cap: history.jobs.filter((j) => j.spend_usd >= j.max_cost_usd).length,
      outputs: history.jobs.reduce((n, j) => n + j.artifacts.length, 0),
      destroys: history.destroyed.length,
      instance_samples: history.samples.reduce((n, x) => n + x.instances.length, 0),
    },
    ended: history.jobs.map((j) => `${j.job_id}: ${j.state}${j.waiting_for ? ` (${j.waiting_for.slice(0, 160)})` : ''}`),
    violations: Object.fromEntries(Object.entries(violations).filter(([, v]) => v.length > 0)),
    ok: Object.values(invariants).every((n) => n === 0),
  };
}

interface DriveCtx {
  o: JobsCampaignOptions;
  sim: RunningSimulator;
  rng: Rng;
  client: Client;
  jobd: JobdProcess;
  submitted: Submitted[];
  history: JobsHistory;
  secrets: Set<string>;
  fired: (k: string) => void;
  T: number;
}

const readStatus = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
};

/** The chaos loop: sample the platform, SIGKILL and restart the supervisor, inject faults, until every job settled. */
async function drive(c: DriveCtx): Promise<void> {
  const { sim, rng, jobd, submitted } = c;
  const deadline = Date.now() + (c.o.deadlineMs ?? 60_000 + 20_000 * c.o.jobs);
  let settledAt: number | null = null;
  let lateCreates = 0;
  for (let tick = 0; ; tick++) {
    jobd.ensure();
    c.history.samples.push(sampleInstances(sim));
    if (tick % 4 === 0) {
      jobd.sampleRss(readStatus);
      await refreshStatuses(c);
    }
    if (tick % 8 === 0) for (const s of secretsOnInstances(sim, KEY)) c.secrets.add(s);
    const all = submitted.every((s) => SETTLED.has(s.status?.state ?? ''));
    if (all) settledAt ??= Date.now();
    if (settledAt !== null && Date.now() - settledAt > tailMs(c.T)) return;
    if (Date.now() > deadline) {
      c.o.onProgress?.('deadline reached with unsettled jobs');
      return;
    }
    if (settledAt === null) {
      const now = Date.now();
      // Random, and at least once each as soon as a job trains: a SIGKILL and an instance fault.
      const training = submitted.some((s) => s.status?.state === 'RUNNING');
      const firstKill = jobd.kills === 0 && training && jobd.upSince !== null && now - jobd.upSince > 1500;
      if (firstKill || (jobd.upSince !== null && rng.chance(0.01))) {
        jobd.kill(rng.int(100, 1500));
        c.fired('supervisor_sigkill');
      }
      const noFaultYet = submitted.every((s) => s.faults.length === 0);
      if (rng.chance(0.05) || (noFaultYet && submitted.some((s) => (s.status?.last_checkpoint_step ?? 0) >= EVERY))) await instanceFault(c, now);
      if (rng.chance(0.015) && sim.ssh) {
        sim.ssh.faults.resetAfterBytes = rng.int(300, 20_000);
        c.fired('ssh_drop');
      }
      if (rng.chance(0.012) && lateCreates < 3) {
        lateCreates++;
        sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: rng.int(1500, 4000), count: 1 });
      }
      for (const s of submitted) {
        if (s.cancelAtMs !== null && now - s.submittedAt > s.cancelAtMs && !s.cancelled) {
          s.cancelled = true;
          await c.client.callTool({ name: 'job_cancel', arguments: { job_id: s.id } });
          c.fired('job_cancel');
        }
      }
    }
    await pause(TICK_MS);
  }
}

async function refreshStatuses(c: DriveCtx): Promise<void> {
  const r = (await c.client.callTool({ name: 'job_status', arguments: {} })) as { structuredContent?: { jobs?: JobStatusView[] } };
  for (const v of r.structuredContent?.jobs ?? []) {
    const s = c.submitted.find((x) => x.id === v.job_id);
    if (!s) continue;
    s.status = v;
    // Spend is judged when the job settles: a stopped disk billing afterwards waits for the user, not the supervisor.
    const spend = jobSpend(c.sim, s.id);
    if (s.capCrossedAt === null && spend >= s.max_cost_usd) {
      // Seen at this poll, crossed earlier: back-date by the overshoot at the job's current burn (platform time
      // runs T times real), so supervisor downtime right after the crossing counts in the allowance.
      const rate = [...c.sim.world.instances.values()]
        .filter((i) => jobOfLabel(i.label) === s.id && gpuBilling(i))
        .reduce((sum, i) => sum + i.gpuRate + i.diskRate, 0);
      const overRealMs = rate > 0 ? (((spend - s.max_cost_usd) / rate) * 3600 * 1000) / c.T : 0;
      s.capCrossedAt = Date.now() - overRealMs;
    }
    if (SETTLED.has(v.state) && s.settledSpend === null) {
      s.settledSpend = spend;
      s.settledAt = Date.now();
    }
  }
}

/** Outbid, host offline or container exited on a running job's instance; where its progress stood is read first. */
async function instanceFault(c: DriveCtx, now: number): Promise<void> {
  const running = c.submitted.filter((s) => s.status?.state === 'RUNNING' && s.status.instance_id && s.faults.length < 2);
  if (!running.length) return;
  const s = c.rng.pick(running);
  const id = s.status!.instance_id!;
  const inst = c.sim.world.instances.get(id);
  if (!inst || inst.destroyedAt !== null || inst.actual !== 'running') return;
  const kind = c.rng.pick(s.interruptible ? ['outbid', 'offline', 'exited'] : ['offline', 'exited']);
  const step = stepOnDisk(c.sim, id);
  const res = await fetch(`${c.sim.url}/_sim/instances/${id}/fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind }),
  });
  if (!res.ok) return;
  const upFor = c.jobd.upSince === null ? 0 : now - c.jobd.upSince;
  const syncRealMs = (SYNC_SECONDS / c.T) * 1000;
  s.faults.push({
    job_id: s.id,
    instance_id: id,
    attempt: s.status!.attempt ?? 1,
    kind,
    step_on_disk: step,
    supervisor_up: upFor > syncRealMs + PASS_ALLOWANCE_S * 1000 + POLL_MS,
  });
  c.fired(kind);
}
