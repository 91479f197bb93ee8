import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CopyLedger } from '../../server/state/ledger.js';
import type { Rng } from '../../sim/rng.js';
import type { RunningSimulator } from '../../sim/server.js';
import { trainerOutput } from '../../sim/trainer/trainer-script.js';
import type { InjectedFault, JobsHistory } from './jobs-invariants.js';
import type { JobdProcess } from './jobs-jobd.js';
import { jobOfLabel, jobSpend } from './jobs-observe.js';

/** The fields of job_status the campaign reads. */
export interface JobStatusView {
  job_id: string;
  state: string;
  attempt: number | null;
  instance_id: number | null;
  last_checkpoint_step: number | null;
  waiting_for: string | null;
}

interface ArtifactView {
  remote_path: string;
  location: string;
  size: number;
  sha256: string;
}

/** A job the campaign submitted through the MCP tools, and what it saw of it since. */
export interface Submitted {
  id: string;
  index: number;
  steps: number;
  interruptible: boolean;
  approval: boolean;
  max_cost_usd: number;
  output_dir: string;
  submittedAt: number;
  /** Real ms after submission when the campaign cancels it, or null. */
  cancelAtMs: number | null;
  cancelled: boolean;
  status: JobStatusView | null;
  settledSpend: number | null;
  /** Real ms when the job was first seen settled, and when its ground-truth spend first reached its cap. */
  settledAt: number | null;
  capCrossedAt: number | null;
  faults: InjectedFault[];
}

const GRACE_SECONDS = 5;

// biome-ignore lint/suspicious/noExplicitAny: structured content of the tools, read field by field
async function call(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
  const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: unknown; content?: unknown };
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content).slice(0, 300)}`);
  return r.structuredContent;
}

/** A 5xx from the platform behind a tool (the simulator injects some): the call may be retried, after a look. */
const transient = (e: unknown) => /HTTP 5\d\d\b/.test((e as Error).message);
const SUBMIT_TRIES = 5;

/**
 * The proposal, then the confirmed submit, as a careful client does it under platform 5xx answers: the proposal
 * rents nothing and is simply asked again; a failed confirmed submit may still have been taken, so the job list
 * is read first (the name is unique here) and the submit is retried only when no such job exists. A token the
 * failed call used up or still holds is refused: a fresh proposal then takes its place.
 */
async function submitConfirmed(
  client: Client,
  args: { name: string } & Record<string, unknown>,
  approval: boolean,
  // biome-ignore lint/suspicious/noExplicitAny: structured content of the tools, read field by field
): Promise<any> {
  let token: string | null = null;
  let last: unknown = null;
  for (let tries = 0; tries < SUBMIT_TRIES; tries++) {
    if (tries > 0) await new Promise((r) => setTimeout(r, 200 * tries));
    try {
      if (token === null) {
        const proposal = await call(client, 'job_submit', args);
        if (proposal.status !== 'needs_confirmation') throw new Error(`job_submit did not ask first: ${proposal.status}`);
        token = proposal.confirmation_token as string;
      }
      return await call(client, 'job_submit', { ...args, grant_teardown_approval: approval, confirmation_token: token });
    } catch (e) {
      last = e;
      const refused = /confirmation_refused|Refused:/.test((e as Error).message);
      if (!transient(e) && !refused) throw e;
      if (token === null) continue;
      const listed = (await call(client, 'job_status', {})).jobs as { job_id: string; name: string }[];
      const taken = listed.find((j) => j.name === args.name);
      if (taken) return { status: 'submitted', job_id: taken.job_id };
      if (refused) token = null;
    }
  }
  throw last;
}

/** Submits job `i` dialog-first: the proposal, then the confirmation token (with or without the standing approval). */
export async function submitJob(client: Client, rng: Rng, i: number, t: { stepMs: number; every: number; syncSeconds: number }): Promise<Submitted> {
  const steps = rng.int(20, 40);
  const interruptible = rng.chance(0.5);
  const approval = rng.chance(0.8);
  const tight = rng.chance(0.15);
  const max_cost_usd = tight ? Math.round(rng.range(0.003, 0.01) * 10_000) / 10_000 : 5;
  const output_dir = `out-${i}`;
  const args = {
    name: `cj-${i}`,
    // A small image: the trainer needs only sh and coreutils, and a short pull keeps the campaign short.
    image: 'ubuntu:22.04',
    gpu_name: 'RTX 4090',
    disk_gb: 20,
    interruptible,
    max_cost_usd,
    max_hours: 1,
    command: `vast-sim-trainer --steps ${steps} --every ${t.every} --step-ms ${t.stepMs} --out /workspace/out --ckpt /workspace/checkpoints`,
    outputs: ['/workspace/out/model.bin'],
    output_dir,
    checkpoint_sync_seconds: t.syncSeconds,
    grace_seconds: GRACE_SECONDS,
  };
  const done = await submitConfirmed(client, args, approval);
  return {
    id: done.job_id,
    index: i,
    steps,
    interruptible,
    approval,
    max_cost_usd,
    output_dir,
    submittedAt: Date.now(),
    cancelAtMs: rng.chance(0.12) ? rng.int(2000, 10_000) : null,
    cancelled: false,
    status: null,
    settledSpend: null,
    settledAt: null,
    capCrossedAt: null,
    faults: [],
  };
}

async function allLogs(client: Client, id: string): Promise<string> {
  let text = '';
  let cursor: number | undefined;
  for (let page = 0; page < 50; page++) {
    const r = await call(client, 'job_logs', { job_id: id, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    text += `${r.log}\n`;
    if (!r.more) break;
    cursor = r.next_cursor;
  }
  return text;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The jobs' final reports (through the tools) beside the simulator's ground truth, into the history. */
export async function collectJobs(c: {
  client: Client;
  sim: RunningSimulator;
  submitted: Submitted[];
  history: JobsHistory;
  copyRoot: string;
  stateDir: string;
  stepMs: number;
  T: number;
  jobd: JobdProcess;
  passAllowanceS: number;
}): Promise<void> {
  const syncLagSteps = Math.ceil(((10 / c.T + c.passAllowanceS + 0.25) * 1000) / c.stepMs);
  for (const s of c.submitted) {
    const st = (await call(c.client, 'job_status', { job_id: s.id })).jobs[0];
    const arts = (await call(c.client, 'job_artifacts', { job_id: s.id })).artifacts as ArtifactView[];
    const logs = await allLogs(c.client, s.id);
    const resumed_at: Record<number, number> = {};
    for (const m of logs.matchAll(/^\[a(\d+)\] resumed from \S+ at step (\d+)$/gm)) resumed_at[Number(m[1])] = Number(m[2]);
    const started = new Set<number>();
    for (const m of logs.matchAll(/^\[a(\d+)\] step \d+\/\d+ /gm)) started.add(Number(m[1]));
    // One interval: a supervisor pass and the worker's grace, plus any time no supervisor ran once the cap was reached
    // (a dead supervisor enforces nothing; it is restarted and catches up).
    const end = s.settledAt ?? Date.now();
    const downS = s.capCrossedAt === null ? 0 : c.jobd.downtimeBetween(s.capCrossedAt, end) / 1000;
    // A slow machine makes a pass longer than the allowance: one interval is then the longest pass seen while the
    // job was being stopped (the supervisor logs every slow pass).
    const passS = s.capCrossedAt === null ? c.passAllowanceS : Math.max(c.passAllowanceS, c.jobd.longestPassBetween(s.capCrossedAt, end) / 1000);
    const intervalSeconds = c.T * (0.25 + passS + downS) + GRACE_SECONDS;
    const rates = [...c.sim.world.instances.values()].filter((i) => jobOfLabel(i.label) === s.id).reduce((sum, i) => sum + i.gpuRate + i.diskRate, 0);
    c.history.jobs.push({
      job_id: s.id,
      steps: s.steps,
      every: 5,
      sync_lag_steps: syncLagSteps,
      max_cost_usd: s.max_cost_usd,
      cap_allowance_usd: (rates * intervalSeconds) / 3600,
      approval_granted: s.approval,
      state: st.state,
      waiting_for: st.waiting_for,
      instance_id: st.instance_id,
      spend_usd: s.settledSpend ?? jobSpend(c.sim, s.id),
      resumed_at,
      started_attempts: [...started],
      artifacts: arts.map((a) => {
        const local = isAbsolute(a.location) ? a.location : join(c.copyRoot, a.location);
        return {
          remote_path: a.remote_path,
          sha256: a.sha256,
          size: a.size,
          local_sha256: existsSync(local) ? sha256(readFileSync(local)) : null,
        };
      }),
      expected_sha256: sha256(trainerOutput(s.steps)),
      faults: s.faults,
    });
  }
  const ledger = new CopyLedger(c.stateDir);
  for (const i of c.sim.world.instances.values()) {
    if (i.destroyedAt === null) continue;
    const job = jobOfLabel(i.label);
    c.history.destroyed.push({
      instance_id: i.id,
      job_id: job,
      approval_granted: c.submitted.find((s) => s.id === job)?.approval ?? false,
      verified_copies: (await ledger.verifiedCopiesFor(i.id)).length,
    });
  }
}
