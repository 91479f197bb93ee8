import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../scripts/campaign/run-campaign.js';
import { MAIN } from '../helpers/spawn.js';

describe('seeded fault campaign (a slice of npm run campaign)', () => {
  it('keeps every invariant under injected faults', async () => {
    const s = await runCampaign({ sequences: 6, seed: 'ci-slice', serverMain: MAIN });
    expect(s.notes).toEqual([]);
    expect(s.invariants).toEqual({
      double_rentals: 0,
      destroys_without_approval_and_copy: 0,
      key_appearances: 0,
      polls_past_deadline: 0,
      partial_files_as_complete: 0,
      unhandled_crashes: 0,
      spend_over_cap: 0,
      unreported_rentals: 0,
      copy_root_escapes: 0,
      verified_copies_lost: 0,
      impostor_execs: 0,
      key_pair_mismatches: 0,
      ssh_hangs: 0,
    });
    expect(s.calls).toBeGreaterThan(20);
    // The fault classes of issue 11's second round are sampled, not only listed.
    const kinds = ['hostile_symlink_tree', 'hostile_upload_links', 'host_restart'];
    if (process.getuid?.() === 0) kinds.push('instance_disk_full'); // mounts need the instance's own namespace
    for (const kind of kinds) expect(s.faults[kind] ?? 0, kind).toBeGreaterThan(0);
    expect(Object.values(s.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
  }, 240_000);
});
