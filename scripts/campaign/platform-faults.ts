import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { SequenceContext } from './sequence.js';

type Call = (tool: string, args: Record<string, unknown>) => Promise<CallToolResult>;

const fault = (ctx: SequenceContext, kind: string) => (ctx.faults[kind] = (ctx.faults[kind] ?? 0) + 1);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * The host restarts the container by itself (issue 11 item 15): exited, then running again with its
 * uptime from zero, and the instance writes new files once it is back. A copy made before the
 * restart no longer covers the disk; `destroys_without_approval_and_copy` counts a destroy that
 * relied on one (run-campaign.ts compares the ledger with the simulator's start history).
 */
export async function hostRestart(ctx: SequenceContext, id: number, call: Call): Promise<void> {
  const r = await fetch(`${ctx.sim.url}/_sim/instances/${id}/fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'host_restart' }),
  });
  if (!r.ok) return;
  fault(ctx, 'host_restart');
  const host = ctx.sim.ssh?.sandbox.hostPath(id, `/workspace/after-restart-${ctx.calls.length}.bin`);
  if (host) writeFileSync(host, randomBytes(2048));
  await call('status', { instance_id: id });
}

/** Runs a command inside the instance as the instance itself (not through the server under test). */
function inInstance(ctx: SequenceContext, id: number, command: string): Promise<{ code: number | null; out: string }> {
  const inst = ctx.sim.world.instances.get(id);
  const sandbox = ctx.sim.ssh?.sandbox;
  if (!inst || !sandbox) return Promise.resolve({ code: null, out: '' });
  return new Promise((resolve) => {
    const child = sandbox.spawnShell(inst, command);
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.resume();
    child.stdin?.end();
    child.on('error', () => resolve({ code: null, out }));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/**
 * A full disk on the instance: a small file system mounted (inside the instance's own mount
 * namespace) over the upload destination and filled. Uploads into it must fail; any upload reported
 * as verified must be on the instance byte for byte (else `partial_files_as_complete`).
 */
export async function fullInstanceDisk(
  ctx: SequenceContext,
  id: number,
  index: number,
  call: Call,
  onViolation: (note: string) => void,
): Promise<void> {
  if (ctx.sim.ssh?.sandbox.mode !== 'namespace') return; // mounting needs the instance's own namespace
  const dir = `/workspace/full-${index}`;
  const made = await inInstance(
    ctx,
    id,
    `mkdir -p ${dir} && mount -t tmpfs -o size=96k tmpfs ${dir} && { head -c 200000 /dev/zero > ${dir}/filler; true; }`,
  );
  if (made.code !== 0) return;
  fault(ctx, 'instance_disk_full');
  const localDir = join(ctx.copyRoot, `full-up-${index}`);
  mkdirSync(localDir, { recursive: true });
  const sent = new Map<string, string>();
  for (const name of ['a.bin', 'b.bin', 'c.bin']) {
    const body = randomBytes(ctx.rng.int(20_000, 120_000));
    writeFileSync(join(localDir, name), body);
    sent.set(name, sha(body));
  }
  const one = await call('copy', {
    instance_id: id,
    direction: 'local_to_instance',
    local_path: `full-up-${index}/a.bin`,
    remote_path: `${dir}/one.bin`,
  });
  const tree = await call('copy', { instance_id: id, direction: 'local_to_instance', local_path: `full-up-${index}`, remote_path: `${dir}/tree` });
  await call('ssh', { instance_id: id, command: `head -c 300000 /dev/urandom > ${dir}/more.bin && echo written`, readiness_seconds: 10 });
  const claims: { remote: string; expected: string }[] = [];
  if (!one.isError) claims.push({ remote: `${dir}/one.bin`, expected: sent.get('a.bin')! });
  if (!tree.isError) for (const [name, digest] of sent) claims.push({ remote: `${dir}/tree/${name}`, expected: digest });
  for (const c of claims) {
    const r = await inInstance(ctx, id, `sha256sum ${c.remote}`);
    const actual = r.out.slice(0, 64);
    if (actual !== c.expected) onViolation(`upload to a full disk reported as verified: ${c.remote} is ${actual.slice(0, 12) || 'missing'}`);
  }
  await inInstance(ctx, id, `umount ${dir}`);
}
