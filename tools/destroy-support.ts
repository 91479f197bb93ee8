import type { ServerDeps } from '../server/deps.js';
import type { GateState } from '../server/safety/destroy-gate.js';
import type { Instance } from '../server/vast/schemas.js';

/** What the user must see before approving: the instance, its data, what is safe, what is saved. */
export async function describeForDestroy(deps: ServerDeps, inst: Instance, state: GateState, burn: number, discard: boolean): Promise<string> {
  let disk = 'not inspected (instance not reachable over SSH)';
  if (deps.inspectDisk && inst.actual_status === 'running') {
    disk = (await deps.inspectDisk(inst.id).catch(() => null)) ?? disk;
  }
  const copies = state.copies.length
    ? state.copies.map((c) => `    - ${c.remote_path} → ${c.destination} (${c.size} bytes, sha256 ${c.sha256_local.slice(0, 12)}…, verified ${new Date(c.at * 1000).toISOString()})`).join('\n')
    : '    - NONE: nothing from this instance was copied off and verified since its last start';
  return [
    `Destroy instance ${inst.id} "${inst.label ?? '(no label)'}" (${inst.num_gpus ?? '?'}x ${inst.gpu_name ?? '?'}, ${inst.actual_status ?? 'provisioning'})?`,
    '  This PERMANENTLY DELETES its disk; no shared filesystem survives.',
    `  /workspace contents: ${disk}`,
    '  Verified copies:',
    copies,
    `  Not verified: everything else on the disk${state.copies.length ? '' : ' (all of it)'}.`,
    discard ? '  The user chose to DISCARD the data: nothing needs keeping.' : '',
    `  Saves $${burn.toFixed(4)}/h ($${(burn * 24).toFixed(2)}/day).`,
  ].filter(Boolean).join('\n');
}

/** Re-reads the instance after destroy until it is gone, for a few seconds at most. */
export async function verifyGone(deps: ServerDeps, id: number): Promise<'gone' | 'present'> {
  for (let i = 0; i < 5; i++) {
    const one = await deps.vast.getInstance(id);
    if (!one) {
      const listed = (await deps.vast.listInstances()).some((x) => x.id === id);
      if (!listed) return 'gone';
    }
    await deps.sleep(1000);
  }
  return 'present';
}
