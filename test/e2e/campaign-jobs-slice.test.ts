import { describe, expect, it } from 'vitest';
import { runJobsCampaign } from '../../scripts/campaign/jobs-run.js';
import { MAIN } from '../helpers/spawn.js';

describe('seeded jobs campaign (a slice of npm run campaign -- --jobs)', () => {
  it('keeps every jobs invariant with the supervisor SIGKILLed and instances failing mid-run', async () => {
    const s = await runJobsCampaign({ jobs: 3, seed: 'ci-jobs-slice', serverMain: MAIN });
    // The violation texts go in the message: vitest abbreviates a nested object to `{ …(1) }` in the diff line.
    expect(s.violations, JSON.stringify(s.violations)).toEqual({});
    expect(s.invariants).toEqual({
      two_attempts_billing_at_once: 0,
      instances_left_billing_unaccounted: 0,
      progress_lost_beyond_one_checkpoint: 0,
      spend_above_cap_beyond_one_interval: 0,
      outputs_verified_but_different: 0,
      destroys_without_approval_and_verified_copy: 0,
      secrets_on_instances: 0,
      jobs_not_settled: 0,
    });
    // The slice really was hostile: the supervisor was killed and restarted, and an instance failed under a job.
    expect(s.supervisor.kills).toBeGreaterThanOrEqual(1);
    expect(s.supervisor.starts).toBeGreaterThanOrEqual(2);
    expect((s.faults.outbid ?? 0) + (s.faults.offline ?? 0) + (s.faults.exited ?? 0)).toBeGreaterThanOrEqual(1);
    expect(Object.values(s.states).reduce((a, b) => a + b, 0)).toBe(3);
    expect(s.judged.instance_samples).toBeGreaterThan(50);
  }, 180_000);
});
