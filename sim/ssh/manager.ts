import type { ChildProcess } from 'node:child_process';
import { generateEd25519 } from '../../server/ssh/keygen.js';
import type { SimInstance } from '../types.js';
import type { SimWorld } from '../world.js';
import { InstanceSsh, type SshHooks } from './instance-ssh.js';
import { InstanceSandbox } from './sandbox.js';
import type { LinkShape } from './throttle.js';

export const DEFAULT_PROXY_BYTES_PER_SECOND = 20 * 1024 * 1024;

/** Gives every instance real SSH endpoints and files, following its lifecycle. */
export class SshManager {
  readonly sandbox: InstanceSandbox;
  private readonly hostKey: string;
  private readonly servers = new Map<number, InstanceSsh>();
  private readonly onstarts = new Map<number, ChildProcess>();
  readonly faults: SshHooks['faults'] = { resetAfterBytes: null, flipByteAt: null };
  private link: LinkShape | null = null;

  constructor(
    private readonly world: SimWorld,
    dataDir: string,
    private readonly proxyBytesPerSecond = DEFAULT_PROXY_BYTES_PER_SECOND,
  ) {
    this.sandbox = new InstanceSandbox(dataDir);
    this.hostKey = generateEd25519().private;
    world.events.on('running', (inst: SimInstance) => this.runOnstart(inst));
    world.events.on('stopped', (inst: SimInstance) => this.halt(inst));
    world.events.on('destroyed', (inst: SimInstance) => void this.remove(inst));
  }

  /** Called at creation: the ports exist from the start and accept connections only while running. */
  async provision(inst: SimInstance): Promise<void> {
    this.sandbox.prepare(inst.id);
    const hooks: SshHooks = {
      isRunning: (i) => {
        this.world.tick();
        return i.destroyedAt === null && i.actual === 'running';
      },
      countBytes: (i, up, down) => this.world.chargeBandwidth(i, up, down),
      log: (i, line) => {
        if (line) this.world.log(i, line);
      },
      faults: this.faults,
      link: () => this.link,
    };
    const server = new InstanceSsh(inst, this.hostKey, this.sandbox, this.proxyBytesPerSecond, hooks);
    await server.start();
    this.servers.set(inst.id, server);
    inst.sshPort = server.proxyPort;
    inst.directSshPort = inst.directSshPort !== null ? server.directPort : null;
  }

  /**
   * Makes every new connection to a direct endpoint behave like a long (and optionally narrow) link:
   * e.g. { rttMs: 100, bytesPerSecond: null } for a host 100 ms away. Null restores loopback.
   */
  setLink(shape: LinkShape | null): void {
    this.link = shape;
  }

  /** The onstart script runs at every start, its output going to the instance's logs. */
  private runOnstart(inst: SimInstance): void {
    if (!inst.onstart || !this.servers.has(inst.id)) return;
    const child = this.sandbox.spawnShell(inst, inst.onstart, { containerEnv: true });
    this.onstarts.set(inst.id, child);
    const toLog = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.world.log(inst, line);
    };
    child.stdout?.on('data', toLog);
    child.stderr?.on('data', toLog);
    child.on('close', (code) => {
      this.onstarts.delete(inst.id);
      this.world.log(inst, `onstart exited with code ${code ?? 'signal'}`);
    });
  }

  private halt(inst: SimInstance): void {
    this.servers.get(inst.id)?.disconnectAll();
    // The container stops: every process in it ends, whoever started it (onstart or an SSH session).
    this.sandbox.stopProcesses(inst.id);
    const child = this.onstarts.get(inst.id);
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
  }

  private async remove(inst: SimInstance): Promise<void> {
    this.halt(inst);
    const server = this.servers.get(inst.id);
    this.servers.delete(inst.id);
    await server?.close();
    // Destroy deletes the disk: nothing of the instance survives.
    this.sandbox.remove(inst.id);
  }

  async close(): Promise<void> {
    for (const inst of this.world.instances.values()) this.halt(inst);
    this.sandbox.stopAll();
    await Promise.all([...this.servers.values()].map((s) => s.close()));
    this.servers.clear();
  }
}
