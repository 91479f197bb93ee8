import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { SequenceContext } from './sequence.js';

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/**
 * A directory copy through the streamed paths (listing + checksums, tar stream), with an SSH reset
 * or a flipped byte at a random offset inside the stream. Every file the server reports as copied
 * is checked later against the instance's file (the partial_files_as_complete invariant).
 */
export async function copyTreeStep(
  ctx: SequenceContext,
  id: number,
  index: number,
  call: (tool: string, args: Record<string, unknown>) => Promise<CallToolResult>,
): Promise<void> {
  const { rng, sim } = ctx;
  const dir = `/workspace/tree-${index}`;
  const n = rng.int(3, 40);
  const made = await call('ssh', {
    instance_id: id,
    command: `mkdir -p ${dir}/sub && for i in $(seq 1 ${n}); do head -c $(( (i * 7919) % 60000 + 1 )) /dev/urandom > ${dir}/sub/f$i; done`,
    readiness_seconds: 20,
  });
  if (made.isError) return;
  if (rng.chance(0.6)) {
    const kind = rng.chance(0.5) ? 'tree_ssh_reset' : 'tree_flipped_byte';
    ctx.faults[kind] = (ctx.faults[kind] ?? 0) + 1;
    const at = rng.int(100, 30_000 * n);
    await post(`${sim.url}/_sim/ssh-faults`, kind === 'tree_ssh_reset' ? { reset_after_bytes: at } : { flip_byte_at: at });
  }
  const local = `tree-${index}`;
  const copied = await call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: dir, local_path: local });
  await post(`${sim.url}/_sim/ssh-faults`, { reset_after_bytes: null, flip_byte_at: null });
  if (copied.isError) return;
  for (const f of ((copied.structuredContent ?? {}) as { files?: { source: string; sha256: string }[] }).files ?? []) {
    const host = sim.ssh?.sandbox.hostPath(id, f.source);
    if (!host || !existsSync(host)) continue;
    const source = createHash('sha256').update(readFileSync(host)).digest('hex');
    ctx.copies.push({ path: join(ctx.copyRoot, local, f.source.slice(dir.length + 1)), reported: f.sha256, source });
  }
}
