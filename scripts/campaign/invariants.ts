import { emptyTrustCounts, type TrustInvariants } from './trust-faults.js';

/** The promises the campaign checks after every sequence; each count must stay 0. */
export interface InvariantCounts extends TrustInvariants {
  double_rentals: number;
  destroys_without_approval_and_copy: number;
  key_appearances: number;
  polls_past_deadline: number;
  partial_files_as_complete: number;
  unhandled_crashes: number;
  /** Money faults (money-faults.ts): a cap or budget exceeded; a rental never named to the agent. */
  spend_over_cap: number;
  unreported_rentals: number;
  /** Hostile symlink trees (hostile-tree.ts): anything written, changed or uploaded past the copy root. */
  copy_root_escapes: number;
}

export function emptyCounts(): InvariantCounts {
  return {
    double_rentals: 0,
    destroys_without_approval_and_copy: 0,
    key_appearances: 0,
    polls_past_deadline: 0,
    partial_files_as_complete: 0,
    unhandled_crashes: 0,
    spend_over_cap: 0,
    unreported_rentals: 0,
    copy_root_escapes: 0,
    ...emptyTrustCounts(),
  };
}

export function countOccurrences(haystack: string, needle: string): number {
  if (!needle) return 0;
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * Ground truth for `destroys_without_approval_and_copy`: a destroy counts when the user gave no
 * approval, or approved without a discard and no verified copy was made since the container last
 * came up or was restarted by the host (`since`). `slackS` covers the one-second resolution of the
 * Date header the server's clock follows.
 */
export function destroyUnjustified(approval: { discard: boolean } | undefined, copiesAt: number[], since: number, slackS = 2): boolean {
  if (!approval) return true;
  return !approval.discard && !copiesAt.some((at) => at >= since - slackS);
}
