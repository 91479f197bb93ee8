import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { SequenceContext } from './sequence.js';

type Call = (tool: string, args: Record<string, unknown>) => Promise<CallToolResult>;

/**
 * Hostile symlink trees (issue 11 item 5, sampled by the campaign). The instance's directory holds
 * links out of the copy root (to /etc, to the local home, to a temp path), link loops, and a
 * directory swapped for a link while the copy runs; the local side gets a link planted in the
 * destination mid-copy and an upload tree whose links point at the API key's neighbour (the SSH
 * private key) and at a secret in the home. Invariant `copy_root_escapes`: after every sequence
 * nothing outside the copy root changed, no canary target exists, the copy root holds no link the
 * campaign did not plant itself, and no secret behind a link reached the instance.
 */
export class HostileTrees {
  escapes = 0;
  readonly notes: string[] = [];
  private readonly tag = randomBytes(4).toString('hex');
  private readonly marker = `CANARY-SECRET-${randomBytes(8).toString('hex')}`;
  /** Paths a followed link would create: they must never exist. */
  private readonly canaries: string[];
  private readonly homeCanary: string;
  private readonly planted = new Set<string>();
  private outside = new Map<string, string>();

  constructor(
    private readonly base: string,
    private readonly copyRoot: string,
    private readonly stateDir: string,
  ) {
    this.homeCanary = join(base, 'home-canary');
    this.canaries = [
      `/etc/vast-mcp-canary-${this.tag}`,
      join(tmpdir(), `vast-mcp-canary-${this.tag}`),
      join(this.homeCanary, 'written-through-link'),
    ];
  }

  /** The user's home as the campaign leaves it: a secret that must never be uploaded or overwritten. */
  setup(): void {
    mkdirSync(this.homeCanary, { recursive: true });
    writeFileSync(join(this.homeCanary, 'secret.txt'), `${this.marker}\n`);
    writeFileSync(join(this.homeCanary, '.bashrc'), 'export PS1=campaign\n');
    mkdirSync(this.copyRoot, { recursive: true });
  }

  /** Snapshot of everything under the campaign's home except the copy root and the state directory. */
  private snapshot(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (p === this.copyRoot || p === this.stateDir || p.startsWith(`${this.stateDir}.`)) continue;
        const st = lstatSync(p);
        out.set(p, st.isDirectory() ? 'dir' : `${st.isSymbolicLink() ? 'link' : 'file'}:${st.size}:${st.mtimeMs}`);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(this.base);
    return out;
  }

  beforeSequence(): void {
    this.outside = this.snapshot();
  }

  private escape(note: string): void {
    this.escapes++;
    this.notes.push(`copy root escape: ${note}`);
  }

  /** After each sequence: the local file system is checked for anything written past the copy root. */
  afterSequence(): void {
    for (const c of this.canaries) if (existsSync(c)) this.escape(`${c} exists (a link was followed)`);
    const now = this.snapshot();
    for (const [p, v] of now) if (this.outside.get(p) !== v) this.escape(`${p} changed outside the copy root`);
    for (const p of this.outside.keys()) if (!now.has(p)) this.escape(`${p} disappeared outside the copy root`);
    const rootReal = realpathSync(this.copyRoot);
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (st.isSymbolicLink()) {
          if (!this.planted.has(p)) this.escape(`the copy created a link ${relative(this.copyRoot, p)}`);
          continue;
        }
        if (!realpathSync(p).startsWith(`${rootReal}/`)) this.escape(`${p} resolves outside the copy root`);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(this.copyRoot);
  }

  private leaked(path: string): boolean {
    const top = lstatSync(path);
    if (top.isFile()) return this.secretIn(path);
    if (!top.isDirectory()) return false;
    for (const name of readdirSync(path)) {
      if (this.leaked(join(path, name))) return true;
    }
    return false;
  }

  private secretIn(file: string): boolean {
    const text = readFileSync(file, 'utf8');
    return text.includes(this.marker) || text.includes('PRIVATE KEY');
  }

  private plant(link: string, target: string): void {
    rmSync(link, { recursive: true, force: true });
    symlinkSync(target, link);
    this.planted.add(link);
  }

  /** A download of a hostile tree, with links swapped in on both sides while it runs. */
  async download(ctx: SequenceContext, id: number, index: number, call: Call): Promise<void> {
    const { rng, sim } = ctx;
    const remote = `/workspace/hostile-${index}`;
    const host = sim.ssh?.sandbox.hostPath(id, remote);
    if (!host) return;
    ctx.faults.hostile_symlink_tree = (ctx.faults.hostile_symlink_tree ?? 0) + 1;
    mkdirSync(join(host, 'sub'), { recursive: true });
    for (let i = 0; i < rng.int(5, 30); i++) writeFileSync(join(host, 'sub', `f${i}`), randomBytes(rng.int(1, 40_000)));
    writeFileSync(join(host, 'plain.txt'), 'ok\n');
    const links: [string, string][] = [
      ['etc', '/etc'],
      ['passwd', this.canaries[0]!],
      ['tmp-canary', this.canaries[1]!],
      ['home', this.homeCanary],
      ['home-file', this.canaries[2]!],
      ['loop', '.'],
      ['up', '..'],
      ['ping', 'pong'],
      ['pong', 'ping'],
      ['sub/escape', '../../../../../../../../etc'],
    ];
    for (const [name, target] of links) symlinkSync(target, join(host, name));
    const local = `hostile-${index}`;
    const localDir = join(this.copyRoot, local);
    const swap = rng.pick(['remote_dir_to_link', 'local_dir_to_link', 'local_link_before', 'none'] as const);
    ctx.faults[`symlink_${swap}`] = (ctx.faults[`symlink_${swap}`] ?? 0) + 1;
    if (swap === 'local_link_before') {
      mkdirSync(localDir, { recursive: true });
      this.plant(join(localDir, 'sub'), this.homeCanary);
    }
    const timer =
      swap === 'remote_dir_to_link' || swap === 'local_dir_to_link'
        ? setTimeout(
            () => {
              try {
                if (swap === 'remote_dir_to_link') {
                  rmSync(join(host, 'sub'), { recursive: true, force: true });
                  symlinkSync(this.homeCanary, join(host, 'sub'));
                } else if (existsSync(localDir)) this.plant(join(localDir, 'sub'), this.homeCanary);
              } catch {
                /* the copy may have finished or removed it first */
              }
            },
            rng.int(0, 60),
          )
        : null;
    await call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: remote, local_path: local });
    if (timer) clearTimeout(timer);
    // A single-file copy through a link on the instance, and into a local destination that is a link.
    await call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: `${remote}/passwd`, local_path: `${local}-passwd` });
    this.plant(join(this.copyRoot, `${local}-homelink`), this.homeCanary);
    await call('copy', {
      instance_id: id,
      direction: 'instance_to_local',
      remote_path: `${remote}/plain.txt`,
      local_path: `${local}-homelink/x.txt`,
    });
  }

  /** An upload whose tree holds links to the SSH private key and to a secret in the home. */
  async upload(ctx: SequenceContext, id: number, index: number, call: Call): Promise<void> {
    const local = join(this.copyRoot, `up-${index}`);
    ctx.faults.hostile_upload_links = (ctx.faults.hostile_upload_links ?? 0) + 1;
    mkdirSync(join(local, 'data'), { recursive: true });
    writeFileSync(join(local, 'data', 'a.txt'), 'fine\n');
    this.plant(join(local, 'key'), join(this.stateDir, 'ssh', 'id_ed25519'));
    this.plant(join(local, 'secret'), join(this.homeCanary, 'secret.txt'));
    this.plant(join(local, 'home'), this.homeCanary);
    this.plant(join(local, 'data', 'loop'), '..');
    this.plant(join(this.copyRoot, `up-${index}-key`), join(this.stateDir, 'ssh', 'id_ed25519'));
    const remote = `/workspace/up-${index}`;
    await call('copy', { instance_id: id, direction: 'local_to_instance', local_path: `up-${index}`, remote_path: remote });
    await call('copy', { instance_id: id, direction: 'local_to_instance', local_path: `up-${index}-key`, remote_path: `${remote}-key` });
    for (const r of [remote, `${remote}-key`]) {
      const host = ctx.sim.ssh?.sandbox.hostPath(id, r);
      if (host && existsSync(host) && this.leaked(host)) this.escape(`a secret behind a local link reached instance ${id} at ${r}`);
    }
  }
}
