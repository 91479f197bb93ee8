import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsRuntime } from '../../server/jobs/runtime.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { readJsonLines } from '../../server/state/jsonl-file.js';
import type { RunningSimulator } from '../../sim/server.js';
import { superviseUntilSettled } from '../helpers/jobs.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

// A submitted job reserves its projected spend once the user said yes (13.8): a second submit or a
// create cannot pass the budget against the same "spent so far" while the first job's supervisor has
// not rented yet. The reservation is paid off by what the job's instance charges and released at its end.
const data = (r: any) => r.structuredContent as any;
let sim: RunningSimulator;
let mcp: Connected;
const savedMode = process.env.VAST_MCP_JOBD;

beforeAll(async () => {
  process.env.VAST_MCP_JOBD = 'off';
  sim = await startTestSim();
  const profiles = parseProfiles('profiles: {}\nbudgets:\n  total_usd: 1.0\n', 'test.yaml');
  mcp = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-reserve-')) }, deps: { profiles } });
});
afterAll(async () => {
  if (savedMode === undefined) delete process.env.VAST_MCP_JOBD;
  else process.env.VAST_MCP_JOBD = savedMode;
  await mcp.close();
  await sim.close();
});

const args = (name: string) => ({
  name,
  image: 'pytorch/pytorch:latest',
  gpu_name: 'RTX 4090',
  disk_gb: 20,
  interruptible: false,
  command: 'vast-sim-trainer --steps 4 --every 2 --step-ms 20 --out /workspace/out --ckpt /workspace/checkpoints',
  outputs: ['/workspace/out/model.bin'],
  output_dir: `out-${name}`,
  max_cost_usd: 0.8,
  max_hours: 10,
  checkpoint_sync_seconds: 10,
  grace_seconds: 5,
});
type Rec = { type: string; id: string; amount?: number; instance_ids?: number[] };
const records = () => readJsonLines<Rec>(join(mcp.deps.config.stateDir, 'reservations.jsonl'));

describe('job_submit reserves its budget', () => {
  it('a second job that would pass the total only without the first is refused until the first ends', async () => {
    const first = data(await mcp.call('job_submit', args('first')));
    expect(first.status).toBe('needs_confirmation');
    // A proposal reserves nothing.
    expect(records()).toEqual([]);
    const r = await mcp.call('job_submit', { ...args('first'), grant_teardown_approval: true, confirmation_token: first.confirmation_token });
    expect(r.isError, textOf(r)).toBeFalsy();
    const job = data(r).job_id;
    const [reserve] = records();
    expect(reserve).toMatchObject({ type: 'reserve', amount: 0.8 });

    // Nothing is rented yet (the supervisor is off), but $0.80 of the $1.00 is spoken for.
    expect(sim.world.liveInstances()).toHaveLength(0);
    const second = await mcp.call('job_submit', args('second'));
    expect(second.isError).toBe(true);
    expect(textOf(second)).toMatch(/budget/);
    expect(textOf(second)).toMatch(
      /Refused: \d+\.\d+ h at \$0\.\d{4}\/h would cost \$0\.80, more than the \$0\.20 left of the overall budget \(\$0\.00 of \$1\.00 spent and \$0\.80 reserved by approved rentals\)\. Nothing was rented/,
    );

    const store = jobsRuntime(mcp.deps).store;
    await superviseUntilSettled(mcp.deps, sim, job, 'reserve-test');
    const instance = (await store.attempts(job))[0]!.instance_id;
    expect((await store.getJob(job))!.state).toBe('succeeded');
    expect(records().filter((x) => x.id === reserve!.id)).toEqual([
      expect.objectContaining({ type: 'reserve' }),
      expect.objectContaining({ type: 'bind', instance_ids: [instance] }),
      expect.objectContaining({ type: 'release' }),
    ]);
    // The job ended having spent cents: the second fits now.
    expect(data(await mcp.call('job_submit', args('second'))).status).toBe('needs_confirmation');
  }, 150_000);

  it("with a profile, the job is projected at its own hours and cap, and may not outlast the profile's max_hours", async () => {
    const profiles = parseProfiles(
      `profiles:
  short: { gpu_name: RTX 4090, num_gpus: 1, max_dph: 0.5, min_reliability: 0.5, max_hours: 1 }
  long: { gpu_name: RTX 4090, num_gpus: 1, max_dph: 0.5, min_reliability: 0.5, max_hours: 200 }
budgets:
  total_usd: 5.0
`,
      'test.yaml',
    );
    const c = await connectInMemory(sim, { config: { copyRoot: mkdtempSync(join(tmpdir(), 'jobs-reserve-p-')) }, deps: { profiles } });
    const spec = (profile: string, max_hours: number, max_cost_usd: number) => {
      const { gpu_name: _g, ...rest } = args(`p-${profile}`);
      return { ...rest, profile, max_hours, max_cost_usd };
    };
    const short = await c.call('job_submit', spec('short', 100, 50));
    expect(short.isError).toBe(true);
    expect(textOf(short)).toMatch(/profile "short" allows at most 1 h per rental, and this job asks for max_hours 100/);
    // 3 h at about $0.23/h is under $1: the profile's 200 h would have projected $45 and refused it.
    const long = data(await c.call('job_submit', spec('long', 3, 50)));
    expect(long.status, JSON.stringify(long)).toBe('needs_confirmation');
    const done = data(await c.call('job_submit', { ...spec('long', 3, 50), confirmation_token: long.confirmation_token }));
    expect(done.status).toBe('submitted');
    const mine = readJsonLines<Rec & { until?: number; at?: number }>(join(c.deps.config.stateDir, 'reservations.jsonl')).at(-1)!;
    expect(mine.amount).toBeCloseTo(long.total_per_hour * 3, 2);
    expect(mine.until! - mine.at!).toBe(4 * 3600);
    await c.close();
  });
});
