import type { ServerDeps } from '../deps.js';
import { VastMcpError } from '../errors.js';
import { assertVerified, type VerifiedCopy } from '../state/ledger.js';

/**
 * The last step of every copy off an instance: record what was verified in the ledger destroy checks.
 * A record that cannot be written (state directory full, shared store out of reach) is not an internal
 * error: the files are there and verified, but destroy stays locked, and the user is told exactly that.
 */
export async function recordCopies(deps: ServerDeps, entries: Omit<VerifiedCopy, 'type'>[]): Promise<number> {
  // A mismatch is a bug upstream, never "done but not recorded": refused before anything is written.
  for (const e of entries) assertVerified(e);
  let recorded = 0;
  for (const e of entries) {
    try {
      await deps.ledger.recordVerifiedCopy(e);
      recorded++;
    } catch (err) {
      deps.logger.warn({ err, instance_id: e.instance_id, remote_path: e.remote_path }, 'verified copy could not be recorded in the ledger');
      const what = entries.length === 1 ? `${JSON.stringify(e.remote_path)} → ${JSON.stringify(e.destination)}` : `${entries.length} files`;
      const partly = entries.length > 1 ? ` (${recorded} of ${entries.length} records written)` : '';
      throw new VastMcpError(
        `Copied and verified ${what} from instance ${e.instance_id} (sha256 on both ends), but the copy was NOT recorded in the verified-copy ledger${partly}: ` +
          'the shared store or the state directory could not be written. Only a recorded copy counts, so destroy stays locked for this instance. ' +
          'The copied files are in place; copy again once the ledger can be written (the operator can check VAST_MCP_STORE_URL or the state directory).',
        'copy_not_recorded',
      );
    }
  }
  return recorded;
}
