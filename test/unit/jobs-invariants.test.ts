import { describe, expect, it } from 'vitest';
import { checkJobsInvariants, countViolations, type JobRecord, type JobsHistory, type Sample } from '../../scripts/campaign/jobs-invariants.js';

const GOOD = 'a'.repeat(64);

function job(over: Partial<JobRecord> = {}): JobRecord {
  return {
    job_id: 'j1',
    steps: 40,
    every: 5,
    sync_lag_steps: 7,
    max_cost_usd: 1,
    cap_allowance_usd: 0.01,
    approval_granted: true,
    state: 'succeeded',
    waiting_for: null,
    instance_id: 2,
    spend_usd: 0.5,
    resumed_at: { 2: 20 },
    started_attempts: [1, 2],
    artifacts: [{ remote_path: '/workspace/out/model.bin', sha256: GOOD, size: 10, local_sha256: GOOD }],
    expected_sha256: GOOD,
    faults: [{ job_id: 'j1', instance_id: 1, attempt: 1, kind: 'outbid', step_on_disk: 25, supervisor_up: true }],
    ...over,
  };
}

const sample = (at: number, billing: number[], jobId = 'j1'): Sample => ({
  at,
  instances: billing.map((id) => ({ id, job_id: jobId, gpu_billing: true, destroyed: false })),
});

function clean(): JobsHistory {
  return {
    samples: [sample(0, [1]), sample(10, [1]), sample(20, [2]), sample(30, [2])],
    jobs: [job()],
    destroyed: [{ instance_id: 1, job_id: 'j1', approval_granted: true, verified_copies: 2 }],
    left: [],
    secrets_found: [],
    overlap_grace_seconds: 60,
  };
}

describe('jobs campaign invariants', () => {
  it('a clean history counts 0 everywhere', () => {
    expect(Object.values(countViolations(checkJobsInvariants(clean()))).every((n) => n === 0)).toBe(true);
  });

  // Each row fabricates one violation; the named checker must count exactly it.
  const cases: [string, keyof ReturnType<typeof countViolations>, (h: JobsHistory) => void][] = [
    [
      'two instances of one job billing GPU together past the grace',
      'two_attempts_billing_at_once',
      (h) => {
        h.samples = [sample(0, [1, 2]), sample(50, [1, 2]), sample(100, [1, 2])];
      },
    ],
    [
      'a live instance still billing GPU at the end',
      'instances_left_billing_unaccounted',
      (h) => void h.left.push({ id: 7, job_id: 'j1', gpu_billing: true }),
    ],
    [
      'a stopped disk the job does not name',
      'instances_left_billing_unaccounted',
      (h) => void h.left.push({ id: 8, job_id: 'j1', gpu_billing: false }),
    ],
    ['an instance of no job', 'instances_left_billing_unaccounted', (h) => void h.left.push({ id: 9, job_id: null, gpu_billing: false })],
    [
      'a stopped disk whose number only starts one the job names',
      'instances_left_billing_unaccounted',
      (h) => {
        h.left.push({ id: 8, job_id: 'j1', gpu_billing: false });
        h.jobs[0]!.waiting_for = 'teardown approval: #81 stopped; disk still billing';
      },
    ],
    [
      'a recovery resumed more than one checkpoint interval behind the disk',
      'progress_lost_beyond_one_checkpoint',
      (h) => {
        h.jobs[0]!.resumed_at = { 2: 5 };
      },
    ],
    [
      'a recovery restarted from zero with progress on disk',
      'progress_lost_beyond_one_checkpoint',
      (h) => {
        h.jobs[0]!.resumed_at = {};
      },
    ],
    [
      'spend past the cap by more than one interval',
      'spend_above_cap_beyond_one_interval',
      (h) => {
        h.jobs[0]!.spend_usd = 1.02;
      },
    ],
    [
      'a verified output whose bytes differ from the trainer',
      'outputs_verified_but_different',
      (h) => {
        h.jobs[0]!.artifacts[0]!.sha256 = 'b'.repeat(64);
      },
    ],
    [
      'a local output that differs from what was reported',
      'outputs_verified_but_different',
      (h) => {
        h.jobs[0]!.artifacts[0]!.local_sha256 = null;
      },
    ],
    [
      'succeeded without any verified output',
      'outputs_verified_but_different',
      (h) => {
        h.jobs[0]!.artifacts = [];
      },
    ],
    [
      'a destroy without the approval',
      'destroys_without_approval_and_verified_copy',
      (h) => {
        h.destroyed[0]!.approval_granted = false;
      },
    ],
    [
      'a destroy without a verified copy',
      'destroys_without_approval_and_verified_copy',
      (h) => {
        h.destroyed[0]!.verified_copies = 0;
      },
    ],
    ['the API key on an instance', 'secrets_on_instances', (h) => void h.secrets_found.push('instance #1 file /workspace/.env')],
    [
      'a job still running at the end',
      'jobs_not_settled',
      (h) => {
        h.jobs[0]!.state = 'RUNNING';
      },
    ],
  ];
  it.each(cases)('counts %s', (_name, key, spoil) => {
    const h = clean();
    spoil(h);
    const counts = countViolations(checkJobsInvariants(h));
    expect(counts[key]).toBe(1);
    expect(Object.entries(counts).filter(([k, n]) => k !== key && n !== 0)).toEqual([]);
  });

  it('tolerates what the rules allow: a short orphan overlap, a named stopped disk, a loss within one interval, a fault while the supervisor was down', () => {
    const h = clean();
    h.samples = [sample(0, [1, 2]), sample(30, [1, 2]), sample(40, [2])];
    h.left.push({ id: 8, job_id: 'j1', gpu_billing: false });
    h.jobs[0]!.waiting_for = 'teardown approval: #8 stopped; disk still billing';
    h.jobs[0]!.resumed_at = { 2: 15 };
    h.jobs[0]!.faults.push({ job_id: 'j1', instance_id: 2, attempt: 2, kind: 'offline', step_on_disk: 39, supervisor_up: false });
    h.jobs[0]!.spend_usd = 1.005;
    expect(Object.values(countViolations(checkJobsInvariants(h))).every((n) => n === 0)).toBe(true);
  });
});
