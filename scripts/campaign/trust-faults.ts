import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import ssh2 from 'ssh2';
import { generateEd25519 } from '../../server/ssh/keygen.js';
import { samePublicKey } from '../../server/ssh/keys.js';
import { readJsonLines } from '../../server/state/jsonl-file.js';
import type { SequenceContext } from './sequence.js';

/**
 * The trust faults of the campaign (issues 11 and 17): torn state files, SSH ports that stay silent
 * or trickle, an impostor sshd on an instance's port, and several processes generating the SSH key
 * at once. Each has an invariant that must stay 0.
 */
export interface TrustInvariants {
  /** Verified copies the server reported that its ledger no longer holds (a torn line swallowed them). */
  verified_copies_lost: number;
  /** Commands an impostor sshd received (host-key pinning must refuse it first). */
  impostor_execs: number;
  /** The SSH key pair on disk does not match, or processes ended with different keys. */
  key_pair_mismatches: number;
  /** A call on a silent/trickling SSH host that did not come back with an answer. */
  ssh_hangs: number;
}

export function emptyTrustCounts(): TrustInvariants {
  return { verified_copies_lost: 0, impostor_execs: 0, key_pair_mismatches: 0, ssh_hangs: 0 };
}

const listen = (s: Server): Promise<number> => new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

export class TrustFaults {
  readonly counts = emptyTrustCounts();
  readonly notes: string[] = [];
  private readonly sockets = new Set<Socket>();
  private servers: { close(): unknown }[] = [];
  private silentPort = 0;
  private tricklePort = 0;
  private impostorPort = 0;
  private keysSeen: string[] = [];

  constructor(private readonly stateDir: string) {}

  /** Before the server starts: four processes create the SSH key in its state dir at once. */
  async beforeServer(): Promise<void> {
    // Built next to this file when run from dist/, else (vitest on the sources) from dist/.
    const built = fileURLToPath(new URL('../../server/ssh/keys.js', import.meta.url));
    const module = existsSync(built) ? built : fileURLToPath(new URL('../../dist/server/ssh/keys.js', import.meta.url));
    const one = () =>
      new Promise<string>((resolve) => {
        let out = '';
        const code = `import { ensureKeyPair } from ${JSON.stringify(module)}; const p = await ensureKeyPair(${JSON.stringify(this.stateDir)}); process.stdout.write(p.publicKey);`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
        child.stdout.on('data', (d) => (out += d));
        child.on('exit', () => resolve(out));
      });
    this.keysSeen = await Promise.all([one(), one(), one(), one()]);
    const track = (s: Socket) => {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => this.sockets.delete(s));
    };
    const silent = createServer(track);
    const trickle = createServer((s) => {
      track(s);
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('S')), 1000);
    });
    const impostor = new ssh2.Server({ hostKeys: [generateEd25519().private] }, (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => ctx.accept());
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          this.counts.impostor_execs++;
          const ch = acceptExec();
          ch.write(`${'0'.repeat(64)}  forged\n`);
          ch.exit(0);
          ch.close();
        });
      });
    });
    this.silentPort = await listen(silent);
    this.tricklePort = await listen(trickle);
    this.impostorPort = await new Promise((r) => impostor.listen(0, '127.0.0.1', () => r((impostor.address() as AddressInfo).port)));
    this.servers = [silent, trickle, impostor];
  }

  private async call(ctx: SequenceContext, tool: string, args: Record<string, unknown>): Promise<CallToolResult | null> {
    const started = Date.now();
    try {
      const r = (await ctx.client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult;
      const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n') + JSON.stringify(r.structuredContent ?? {});
      ctx.calls.push({ tool, ms: Date.now() - started, isError: Boolean(r.isError), text });
      return r;
    } catch (e) {
      this.counts.ssh_hangs++;
      this.notes.push(`${tool} on a hostile SSH host: ${(e as Error).message}`);
      return null;
    }
  }

  /** A live instance from this campaign, if any (the sequence may have destroyed its own). */
  private liveInstance(ctx: SequenceContext): number | null {
    for (const id of [...ctx.created].reverse()) {
      const inst = ctx.sim.world.instances.get(id);
      if (inst && inst.destroyedAt === null && inst.actual === 'running') return id;
    }
    return null;
  }

  /** Between sequences: maybe tear a state file, maybe put a hostile host on a live instance's ports. */
  async afterSequence(ctx: SequenceContext): Promise<void> {
    const { rng } = ctx;
    if (rng.chance(0.3)) {
      const file = rng.pick(['ledger.jsonl', 'audit.jsonl']);
      if (existsSync(join(this.stateDir, file))) {
        appendFileSync(join(this.stateDir, file), '{"type":"verified_copy","instance_id":1,"remote_pa');
        ctx.faults.torn_state_file = (ctx.faults.torn_state_file ?? 0) + 1;
      }
    }
    const id = this.liveInstance(ctx);
    if (id === null || !rng.chance(0.5)) return;
    const inst = ctx.sim.world.instances.get(id)!;
    const kind = rng.pick(['silent_ssh', 'trickling_ssh', 'impostor_ssh'] as const);
    ctx.faults[kind] = (ctx.faults[kind] ?? 0) + 1;
    const saved = { direct: inst.directSshPort, proxy: inst.sshPort };
    if (kind === 'impostor_ssh') await this.call(ctx, 'ssh', { instance_id: id, readiness_seconds: 5 }); // pin the real key first
    const port = kind === 'silent_ssh' ? this.silentPort : kind === 'trickling_ssh' ? this.tricklePort : this.impostorPort;
    if (inst.directSshPort !== null) inst.directSshPort = port;
    inst.sshPort = port;
    try {
      const r = await this.call(ctx, 'ssh', { instance_id: id, command: 'sha256sum /workspace/*', readiness_seconds: 2 });
      if (r && !r.isError) this.notes.push(`${kind}: ssh to instance ${id} succeeded on a hostile host`);
      if (kind === 'impostor_ssh')
        await this.call(ctx, 'copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace', local_path: `impostor-${id}` });
      // destroy must still answer (its disk inspection is best-effort): ask only, never approve here.
      await this.call(ctx, 'destroy', { instance_id: id, discard: false });
    } finally {
      inst.directSshPort = saved.direct;
      inst.sshPort = saved.proxy;
    }
  }

  /** After the campaign: the invariants that need the state directory. */
  finish(ctx: SequenceContext): void {
    ctx.faults.concurrent_keygen = (ctx.faults.concurrent_keygen ?? 0) + 1;
    const records = readJsonLines<{ type: string; sha256_local?: string; destination?: string }>(join(this.stateDir, 'ledger.jsonl')).filter(
      (r) => r.type === 'verified_copy',
    );
    const recorded = new Set(records.map((r) => r.sha256_local));
    // A directory is recorded once, as a whole (its digest covers every file's path, size and sha256).
    const dirs = records.map((r) => r.destination ?? '').filter((d) => d.startsWith('/'));
    const inRecordedDir = (p: string) => dirs.some((d) => p.startsWith(`${d.replace(/\/+$/, '')}/`));
    for (const c of ctx.copies) {
      if (!recorded.has(c.reported) && !inRecordedDir(c.path)) {
        this.counts.verified_copies_lost++;
        this.notes.push(`verified copy ${c.path} is not in the ledger`);
      }
    }
    const path = join(this.stateDir, 'ssh', 'id_ed25519');
    const pub = existsSync(`${path}.pub`) ? readFileSync(`${path}.pub`, 'utf8') : '';
    const parsed = existsSync(path) ? ssh2.utils.parseKey(readFileSync(path, 'utf8')) : new Error('missing');
    const derived =
      parsed instanceof Error
        ? ''
        : `${(Array.isArray(parsed) ? parsed[0]! : parsed).type} ${(Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH().toString('base64')}`;
    if (!derived || !samePublicKey(derived, pub) || this.keysSeen.some((k) => !samePublicKey(k, pub))) {
      this.counts.key_pair_mismatches++;
      this.notes.push('the SSH key pair in the state directory does not match, or concurrent processes got different keys');
    }
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    for (const s of this.servers) s.close();
  }
}
