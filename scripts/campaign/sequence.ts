import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Rng } from '../../sim/rng.js';
import type { RunningSimulator } from '../../sim/server.js';
import { copyTreeStep } from './copy-faults.js';

export interface CallRecord {
  tool: string;
  ms: number;
  isError: boolean;
  text: string;
}

export interface SequenceContext {
  client: Client;
  sim: RunningSimulator;
  rng: Rng;
  copyRoot: string;
  calls: CallRecord[];
  /** Destroys the "user" approved, with what made them allowed. */
  approvals: Map<number, { discard: boolean }>;
  /** Instances the server said it created. */
  created: number[];
  faults: Record<string, number>;
  /** Local files the server reported as verified copies: path → sha256 reported, sha256 of the source at copy time. */
  copies: { path: string; reported: string; source: string }[];
  /** Extra fault classes that act at fixed points of a sequence (run-campaign.ts wires them). */
  hooks?: SequenceHooks;
}

export type ToolCall = (tool: string, args: Record<string, unknown>) => Promise<CallToolResult>;

export interface SequenceHooks {
  /** After the sequence's own work and copies, while the instance should still be running. */
  afterWork?(id: number, index: number, call: ToolCall): Promise<void>;
  /** Before the destroy dialog is asked for. */
  beforeDestroy?(id: number, call: ToolCall): Promise<void>;
  /** Between the destroy dialog and the user's approval of it. */
  beforeApproval?(id: number, call: ToolCall): Promise<void>;
}

async function call(ctx: SequenceContext, tool: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const started = Date.now();
  const r = (await ctx.client.callTool({ name: tool, arguments: args }, undefined, { timeout: 180_000 })) as CallToolResult;
  const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n') + JSON.stringify(r.structuredContent ?? {});
  ctx.calls.push({ tool, ms: Date.now() - started, isError: Boolean(r.isError), text });
  return r;
}

const data = (r: CallToolResult) => (r.structuredContent ?? {}) as Record<string, any>;
const fault = (ctx: SequenceContext, kind: string) => (ctx.faults[kind] = (ctx.faults[kind] ?? 0) + 1);

function sourceSha(ctx: SequenceContext, id: number, remote: string): string | null {
  const host = ctx.sim.ssh?.sandbox.hostPath(id, remote);
  if (!host || !existsSync(host)) return null;
  return createHash('sha256').update(readFileSync(host)).digest('hex');
}

/** One randomized chat-ops conversation: search, rent with confirmation, work, copy, tear down. */
export async function runSequence(ctx: SequenceContext, index: number): Promise<void> {
  const { rng, sim } = ctx;
  const gpu = rng.pick(['RTX 4090', 'RTX 3090', 'RTX 3060', 'RTX A6000']);
  await call(ctx, 'offers', { gpu_name: gpu, limit: rng.int(1, 5), interruptible: rng.chance(0.2), hours: rng.int(1, 10) });
  const args = { gpu_name: gpu, disk_gb: rng.int(10, 40), hours: 1, min_direct_ports: 1, expected_instance_ids: ctx.created };
  const proposal = await call(ctx, 'create', args);
  if (proposal.isError || data(proposal).status !== 'needs_confirmation') return;
  if (rng.chance(0.15)) return; // the user says no
  if (rng.chance(0.2)) {
    fault(ctx, 'offer_taken');
    const ask = sim.world.market.byId.get(data(proposal).quote[0].offer_id);
    if (ask) ask.machine.gpusBusyByOthers = ask.machine.gpuTotal;
  }
  const created = await call(ctx, 'create', { ...args, wait: true, wait_timeout_seconds: 60, confirmation_token: data(proposal).confirmation_token });
  // A lost create answer leaves the outcome to the server's reconciliation; ground truth is checked later.
  const id: number | undefined = data(created).instances?.[0]?.instance_id;
  if (!id) return;
  ctx.created.push(id);
  if (data(created).instances[0].reconciled) fault(ctx, 'create_answer_lost');

  const name = `ckpt-${index}.bin`;
  const write = await call(ctx, 'ssh', {
    instance_id: id,
    command: `head -c ${rng.int(10_000, 1_500_000)} /dev/urandom > /workspace/${name} && sha256sum /workspace/${name}`,
    readiness_seconds: 20,
  });
  const early = await call(ctx, 'destroy', { instance_id: id });
  if (!early.isError && data(early).status === 'destroyed') {
    // Must never happen: no approval was given.
  }
  if (rng.chance(0.15)) {
    const kind = rng.pick(['outbid', 'offline', 'exited']);
    fault(ctx, `instance_${kind}`);
    await fetch(`${sim.url}/_sim/instances/${id}/fault`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind }),
    });
    await call(ctx, 'status', { instance_id: id });
  }
  if (!write.isError && rng.chance(0.8)) {
    if (rng.chance(0.25)) {
      const kind = rng.chance(0.5) ? 'ssh_reset' : 'flipped_byte';
      fault(ctx, kind);
      await fetch(`${sim.url}/_sim/ssh-faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(kind === 'ssh_reset' ? { reset_after_bytes: 5000 } : { flip_byte_at: 777 }),
      });
    }
    const source = sourceSha(ctx, id, `/workspace/${name}`);
    const local = `seq-${index}/${name}`;
    const copied = await call(ctx, 'copy', { instance_id: id, direction: 'instance_to_local', remote_path: `/workspace/${name}`, local_path: local });
    await fetch(`${sim.url}/_sim/ssh-faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reset_after_bytes: null, flip_byte_at: null }),
    });
    if (!copied.isError && source) ctx.copies.push({ path: join(ctx.copyRoot, local), reported: data(copied).files[0].sha256, source });
  }
  const bound: ToolCall = (tool, a) => call(ctx, tool, a);
  if (!write.isError && rng.chance(0.3)) await copyTreeStep(ctx, id, index, bound);
  if (!write.isError) await ctx.hooks?.afterWork?.(id, index, bound);
  if (rng.chance(0.2)) {
    await call(ctx, 'stop', { instance_id: id });
    await call(ctx, 'billing', {});
  }
  const discard = rng.chance(0.3);
  await ctx.hooks?.beforeDestroy?.(id, bound);
  const ask = await call(ctx, 'destroy', { instance_id: id, discard });
  if (!ask.isError && data(ask).status === 'needs_approval') {
    if (rng.chance(0.9)) {
      await ctx.hooks?.beforeApproval?.(id, bound);
      ctx.approvals.set(id, { discard });
      await call(ctx, 'destroy', { instance_id: id, discard, approval_token: data(ask).approval_token });
    }
  }
  if (rng.chance(0.3)) await call(ctx, 'status', {});
}
