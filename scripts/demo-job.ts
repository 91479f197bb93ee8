import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import type { RunningSimulator } from '../sim/server.js';
import { trainerOutput } from '../sim/trainer/trainer-script.js';
import type { Transcript } from './demo-transcript.js';

const STEPS = 60;
const SETTLED = new Set(['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'awaiting_user']);
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The server environment the job part needs: a quick supervisor that exits soon after the demo's last job. */
export const DEMO_JOB_ENV = { VAST_MCP_JOBD_POLL_MS: '300', VAST_MCP_JOBD_IDLE_EXIT_SECONDS: '3' };

interface JobView {
  state: string;
  attempt: number | null;
  instance_id: number | null;
  machine_id: number | null;
  last_checkpoint_step: number | null;
  recent_events: { at: number; from: string | null; to: string; reason: string }[];
}

/**
 * The demo's job: submitted once with a cap and a standing teardown approval, outbid mid-run, recovered on
 * another machine from its last verified checkpoint, finished with verified outputs, instances destroyed,
 * billing shown. Ends with a `JOB DEMO OK` line (the e2e test looks for it) or throws.
 */
export async function demoJob(c: {
  client: Client;
  t: Transcript;
  sim: RunningSimulator;
  answers: { say: string; result: ElicitResult }[];
}): Promise<void> {
  const { client, t, sim } = c;
  const status = async (id: string): Promise<JobView> => {
    const r = (await client.callTool({ name: 'job_status', arguments: { job_id: id } })) as CallToolResult;
    return (r.structuredContent as { jobs: JobView[] }).jobs[0]!;
  };
  t.say(
    `The user: "Train my model (${STEPS} steps, a checkpoint every 10) on an interruptible RTX 4090. Cap it at $2, and you may destroy the instances once the outputs are verified. I am closing the chat now."`,
  );
  c.answers.push({
    say: 'Yes, run it; and yes, destroy the instances once every output is verified.',
    result: { action: 'accept', content: { confirm: true, teardown_approval: true } },
  });
  const submitted = await t.call('job_submit', {
    name: 'demo-train',
    image: 'pytorch/pytorch:latest',
    gpu_name: 'RTX 4090',
    disk_gb: 20,
    interruptible: true,
    max_cost_usd: 2,
    max_hours: 2,
    command: `vast-sim-trainer --steps ${STEPS} --every 10 --step-ms 150 --out /workspace/out --ckpt /workspace/checkpoints`,
    outputs: ['/workspace/out/model.bin'],
    output_dir: 'demo-train',
    checkpoint_sync_seconds: 10,
    grace_seconds: 10,
  });
  if (submitted.isError) throw new Error('job_submit failed (see above)');
  const sub = submitted.structuredContent as { status: string; job_id: string | null; teardown_approval: boolean };
  if (sub.status !== 'submitted' || !sub.job_id || !sub.teardown_approval)
    throw new Error(`job_submit did not submit with the approval: ${sub.status}`);
  const id = sub.job_id;
  t.say(`The chat is over; the background supervisor (vast-mcp jobd) drives job ${id}. What it does, as job_status reports it:`);
  const seen = new Set<string>();
  let outbid: { instance: number; machine: number | null; step: number } | null = null;
  let v = await status(id);
  const deadline = Date.now() + 150_000;
  while (!SETTLED.has(v.state)) {
    for (const e of v.recent_events) {
      const k = `${e.at}:${e.to}`;
      if (!seen.has(k)) {
        seen.add(k);
        process.stdout.write(`   [job] ${e.from ?? '-'} → ${e.to}: ${e.reason}\n`);
      }
    }
    if (!outbid && v.state === 'RUNNING' && (v.last_checkpoint_step ?? 0) >= 20 && v.instance_id) {
      outbid = { instance: v.instance_id, machine: v.machine_id, step: v.last_checkpoint_step ?? 0 };
      t.say(`The platform outbids the interruptible instance #${v.instance_id} (a higher bid takes its GPU) at checkpoint ${outbid.step}:`);
      await fetch(`${sim.url}/_sim/instances/${v.instance_id}/fault`, { method: 'POST', body: JSON.stringify({ kind: 'outbid' }) });
    }
    if (Date.now() > deadline) throw new Error(`the demo job did not finish: ${v.state}`);
    await pause(400);
    v = await status(id);
  }
  for (const e of v.recent_events) if (!seen.has(`${e.at}:${e.to}`)) process.stdout.write(`   [job] ${e.from ?? '-'} → ${e.to}: ${e.reason}\n`);
  await t.call('job_status', { job_id: id });
  const logs = (await client.callTool({ name: 'job_logs', arguments: { job_id: id, limit: 1000 } })) as CallToolResult;
  const resumed = /\[a2\] resumed from (\S+) at step (\d+)/.exec((logs.structuredContent as { log: string }).log);
  if (resumed) t.say(`From the job's logs (pulled off the instances while they ran): attempt 2 "resumed from ${resumed[1]} at step ${resumed[2]}".`);
  const arts = await t.call('job_artifacts', { job_id: id });
  const out = (arts.structuredContent as { artifacts: { sha256: string }[] }).artifacts[0];
  const want = createHash('sha256').update(trainerOutput(STEPS)).digest('hex');
  const mine = [...sim.world.instances.values()].filter((i) => i.label?.includes(`-job-${id}-`));
  const destroyed = mine.filter((i) => i.destroyedAt !== null);
  const machines = mine.map((i) => i.ask.machine.machineId);
  const billed = mine.reduce((s, i) => s + i.costs.gpu + i.costs.disk + i.costs.bwu + i.costs.bwd, 0);
  await t.call('billing');
  t.say(`Billing for this job: $${billed.toFixed(4)} over ${mine.length} instances (${mine.map((i) => `#${i.id}`).join(', ')}), cap $2.`);
  const problems = [
    v.state !== 'succeeded' && `ended ${v.state}`,
    !outbid && 'was never outbid',
    (v.attempt ?? 0) < 2 && 'did not recover on a second instance',
    new Set(machines).size < 2 && 'did not move to another machine',
    !resumed && 'did not resume from a checkpoint',
    out?.sha256 !== want && 'output differs from an uninterrupted run',
    destroyed.length !== mine.length && 'left instances undestroyed',
  ].filter(Boolean);
  if (problems.length) throw new Error(`the demo job ${problems.join(', ')}`);
  t.say(
    `JOB DEMO OK: outbid on machine ${outbid!.machine} at step ${outbid!.step}, resumed on machine ${machines[machines.length - 1]} from checkpoint step ${resumed![2]}, ` +
      `output sha256 ${want.slice(0, 16)}… = an uninterrupted run, ${destroyed.length} instances destroyed, $${billed.toFixed(4)} billed.`,
  );
}
