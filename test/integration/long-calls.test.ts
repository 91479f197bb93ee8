import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { rentOne, startTestSim } from '../helpers/sim.js';

/**
 * Common clients give a tool call about 60 s (Codex, the SDK client) and send notifications/cancelled when
 * they give up. No call may block past the per-call limit (here 2 s instead of 45 s) without a way on, and a
 * cancel must stop the work in flight on the instance.
 */
let sim: RunningSimulator;
let mcp: Connected;
let id: number;
const data = (r: any) => r.structuredContent as any;

async function sh(command: string): Promise<string> {
  const r = await mcp.call('ssh', { instance_id: id, command });
  expect(r.isError, textOf(r)).toBeFalsy();
  return data(r).stdout.text as string;
}

/** Polls the instance (bounded) until `command` prints `want`; returns what it printed last. */
async function until(command: string, want: string, tries = 50): Promise<string> {
  let last = '';
  for (let i = 0; i < tries; i++) {
    last = (await sh(command)).trim();
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

const ALIVE = (file: string) => `p=$(cat ${file} 2>/dev/null); [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo alive || echo gone`;

beforeAll(async () => {
  sim = await startTestSim();
  id = await rentOne(sim);
  sim.world.clock.advance(600);
  mcp = await connectInMemory(sim, { config: { callSeconds: 2 } });
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('ssh within the per-call limit', () => {
  it('a client that cancels a long command ends it on the instance, child processes included, and the server records it', async () => {
    await sh('rm -f /workspace/cmd.pid /workspace/child.pid');
    const ac = new AbortController();
    const call = mcp.client.callTool(
      {
        name: 'ssh',
        arguments: {
          instance_id: id,
          timeout_seconds: 600,
          command: 'sleep 300 & echo $! > /workspace/child.pid; echo $$ > /workspace/cmd.pid; wait',
        },
      },
      undefined,
      { signal: ac.signal, timeout: 60_000 },
    );
    call.catch(() => undefined);
    expect(await until(ALIVE('/workspace/cmd.pid'), 'alive')).toBe('alive');
    ac.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    expect(await until(ALIVE('/workspace/cmd.pid'), 'gone')).toBe('gone');
    expect(await until(ALIVE('/workspace/child.pid'), 'gone')).toBe('gone');
    const rec = mcp.deps.audit.entries().find((e) => e.action === 'exec' && (e.detail as any)?.cancelled === true);
    expect(rec, 'an audit record of the cancelled command').toBeTruthy();
    expect((rec!.detail as any).killed).toBe('group');
  }, 60_000);

  it('without timeout_seconds a command is ended at the per-call limit, on the instance too, with a way on', async () => {
    await sh('rm -f /workspace/long.pid');
    const r = await mcp.call('ssh', { instance_id: id, command: 'echo $$ > /workspace/long.pid; sleep 300' });
    const d = data(r);
    expect(d.timed_out).toBe(true);
    expect(d.exit_code).toBeNull();
    expect(d.next_step).toMatch(/background|job/i);
    expect(textOf(r)).toMatch(/killed after 2 s timeout; SIGKILL sent to its process group/);
    expect(await until(ALIVE('/workspace/long.pid'), 'gone')).toBe('gone');
  }, 60_000);

  it('says in its description that the default timeout is within common client limits', async () => {
    const tools = await mcp.client.listTools();
    const ssh = tools.tools.find((t) => t.name === 'ssh')!;
    expect(ssh.description).toMatch(/45 s/);
    expect(ssh.description).toMatch(/nohup|background|job_submit/);
  });
});

describe('copy cancelled by the client', () => {
  it('leaves no finished-looking file and records nothing as verified', async () => {
    await sh('head -c 30000000 /dev/urandom > /workspace/big-cancel.bin');
    const before = (await mcp.deps.ledger.verifiedCopiesFor(id)).length;
    const ac = new AbortController();
    const call = mcp.client.callTool(
      {
        name: 'copy',
        arguments: {
          instance_id: id,
          direction: 'instance_to_local',
          remote_path: '/workspace/big-cancel.bin',
          local_path: 'big-cancel.bin',
          prefer_proxy: true,
        },
      },
      undefined,
      { signal: ac.signal, timeout: 60_000 },
    );
    call.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 800));
    ac.abort('stop');
    await expect(call).rejects.toThrow();
    const root = mcp.deps.config.copyRoot;
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    // Bounded: the server's copy ends at the cancel; the lock goes with it.
    for (let i = 0; i < 50 && existsSync(join(root, '.big-cancel.bin.vast-mcp-lock')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(root, 'big-cancel.bin'))).toBe(false);
    expect(await mcp.deps.ledger.verifiedCopiesFor(id)).toHaveLength(before);
  }, 60_000);
});

describe('waiting for running within the per-call limit', () => {
  const ARGS = { gpu_name: 'RTX 4090', disk_gb: 40, hours: 5 };

  it('create with wait returns a resumable answer at the limit; status with wait continues without a second rental', async () => {
    const liveBefore = sim.world.liveInstances().length;
    const p = data(await mcp.call('create', ARGS));
    expect(p.status).toBe('needs_confirmation');
    const progress: string[] = [];
    const r = await mcp.call('create', { ...ARGS, wait: true, wait_timeout_seconds: 600, confirmation_token: p.confirmation_token }, (n) =>
      progress.push(n.message ?? ''),
    );
    const c = data(r);
    expect(c.status).toBe('created');
    const newId = c.instances[0].instance_id as number;
    expect(c.instances[0].state).not.toBe('running');
    expect(c.instances[0].diagnosis).toMatch(/still starting/i);
    expect(c.next_step).toMatch(new RegExp(`status.*instance_id ${newId}.*wait`));
    expect(c.next_step).toMatch(/do not call create again/i);
    expect(textOf(r)).toMatch(/RENTED AND BILLING/);
    expect(progress.length).toBeGreaterThan(0);
    expect(sim.world.liveInstances()).toHaveLength(liveBefore + 1);

    // Still not running: the resume itself returns at the limit, resumable again.
    const again = data(await mcp.call('status', { instance_id: newId, wait: true }));
    expect(again.wait.outcome).toBe('still_starting');
    expect(again.next_step).toMatch(/call status again/i);

    sim.world.clock.advance(900);
    const statusProgress: string[] = [];
    const done = data(await mcp.call('status', { instance_id: newId, wait: true }, (n) => statusProgress.push(n.message ?? '')));
    expect(done.wait.outcome).toBe('running');
    expect(done.instances[0].actual_status).toBe('running');
    expect(statusProgress.length).toBeGreaterThan(0);
    expect(sim.world.liveInstances()).toHaveLength(liveBefore + 1);
  }, 60_000);

  it('a cancelled wait ends at once and says what is billing', async () => {
    const p = data(await mcp.call('create', ARGS));
    const ac = new AbortController();
    // The first progress notification cancels.
    const call = mcp.client.callTool({ name: 'create', arguments: { ...ARGS, wait: true, confirmation_token: p.confirmation_token } }, undefined, {
      signal: ac.signal,
      timeout: 60_000,
      onprogress: () => ac.abort('stop'),
    });
    await expect(call).rejects.toThrow();
    const rented = mcp.deps.audit.entries().filter((e) => e.action === 'rent' && e.result === 'ok');
    const last = rented[rented.length - 1]!;
    const rec = mcp.deps.audit.entries().find((e) => e.action === 'wait' && e.instance_id === last.instance_id);
    expect((rec?.detail as any)?.cancelled).toBe(true);
    expect(JSON.stringify(rec?.detail)).toMatch(/billing/);
  }, 60_000);
});
