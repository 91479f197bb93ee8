import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimInstance } from '../types.js';
import { TRAINER_COMMAND, TRAINER_SCRIPT } from '../trainer/trainer-script.js';
import { InstanceNamespaces } from './instance-namespace.js';

/** System directories a container image would have; nothing from the host's homes, /proc or state. */
const SYSTEM_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr', 'etc', 'opt'];

export type IsolationMode = 'namespace' | 'proot' | 'none';

/** What a real instance's SSH session sees: the image's basics, never the host's environment. */
function baseEnv(inst: SimInstance): Record<string, string> {
  return {
    HOME: '/root',
    PATH: '/.vast-sim/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    VAST_CONTAINERLABEL: `C.${inst.id}`,
    CONTAINER_ID: String(inst.id),
    SIM_GPU_NAME: inst.ask.machine.gpu.name,
    SIM_GPU_COUNT: String(inst.numGpus),
    SIM_GPU_RAM_MIB: String(inst.ask.machine.gpu.ramMb),
    SIM_DRIVER: inst.ask.machine.driverVersion,
    SIM_CUDA: String(inst.ask.machine.cudaMaxGood),
  };
}

function detectMode(proot: string | null): IsolationMode {
  // VAST_SIM_ISOLATION forces a mode (tests of each; 'none' to check the refusal).
  const forced = process.env.VAST_SIM_ISOLATION;
  if (forced === 'none' || (forced === 'proot' && proot)) return forced;
  const ns = process.getuid?.() === 0 ? spawnSync('unshare', ['-m', '-p', '--fork', '--propagation', 'private', 'true'], { stdio: 'ignore' }) : null;
  if (ns?.status === 0 && forced !== 'proot') return 'namespace';
  return proot ? 'proot' : 'none';
}

/**
 * Where an instance's files live and how its commands run: `/workspace` and `/root` inside the
 * instance are its own directories here, so two instances never see each other's files and the
 * host's real /workspace is never touched. As root: a mount namespace + chroot (faithful: every
 * syscall works). Otherwise: Debian's proot (its 5.1 release does not map statx, so `ls -l` and
 * `stat` fail on instance paths there).
 */
export class InstanceSandbox {
  readonly binDir: string;
  readonly proot: string | null;
  readonly mode: IsolationMode;
  private readonly namespaces: InstanceNamespaces;

  constructor(readonly dataDir: string) {
    this.binDir = join(dataDir, 'bin');
    mkdirSync(this.binDir, { recursive: true });
    writeFileSync(join(this.binDir, 'nvidia-smi'), NVIDIA_SMI);
    chmodSync(join(this.binDir, 'nvidia-smi'), 0o755);
    // The deterministic trainer jobs tests run (sim/trainer).
    writeFileSync(join(this.binDir, TRAINER_COMMAND), TRAINER_SCRIPT, { mode: 0o755 });
    const found = spawnSync('sh', ['-c', 'command -v proot'], { encoding: 'utf8' });
    this.proot = found.status === 0 ? found.stdout.trim() : null;
    this.mode = detectMode(this.proot);
    this.namespaces = new InstanceNamespaces(dataDir, SYSTEM_DIRS);
  }

  /** Ends every process of the instance (its container stops or is destroyed). */
  stopProcesses(id: number): void {
    this.namespaces.stop(id);
  }

  stopAll(): void {
    this.namespaces.stopAll();
  }

  rootOf(id: number): string {
    return join(this.dataDir, 'instances', String(id));
  }

  prepare(id: number): void {
    mkdirSync(join(this.rootOf(id), 'workspace'), { recursive: true });
    mkdirSync(join(this.rootOf(id), 'root'), { recursive: true });
  }

  remove(id: number): void {
    this.namespaces.stop(id);
    rmSync(this.rootOf(id), { recursive: true, force: true });
  }

  /** Maps an instance path to the host path, or null when it is outside /workspace and /root. */
  hostPath(id: number, remote: string): string | null {
    const abs = remote.startsWith('/') ? remote : `/root/${remote}`;
    const parts: string[] = [];
    for (const p of abs.split('/')) {
      if (!p || p === '.') continue;
      if (p === '..') parts.pop();
      else parts.push(p);
    }
    if (parts[0] !== 'workspace' && parts[0] !== 'root') return null;
    return join(this.rootOf(id), ...parts);
  }

  /**
   * Runs `sh -c command` inside the instance, with a clean environment (never the simulator's own).
   * The env given at create reaches the container's processes (onstart: `containerEnv`) but, as on
   * the real platform, not SSH sessions (vast-ai/docs creating-instances-with-api.mdx: "not
   * automatically visible in SSH sessions"; fidelity audit #16).
   */
  spawnShell(inst: SimInstance, command: string, opts: { containerEnv?: boolean; sshSession?: boolean } = {}): ChildProcess {
    const env = baseEnv(inst);
    if (opts.containerEnv) for (const [k, v] of Object.entries(inst.env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) env[k] = v;
    const root = this.rootOf(inst.id);
    if (this.mode === 'namespace') {
      return this.namespaces.spawn(
        inst.id,
        { workspace: join(root, 'workspace'), home: join(root, 'root'), bin: this.binDir },
        command,
        env,
        opts.sshSession ?? false,
      );
    }
    if (this.mode === 'none') {
      return spawn(
        'sh',
        [
          '-c',
          'echo "simulator: cannot run commands isolated inside the instance: run the simulator as root (mount namespace) or install proot (apt-get install proot)" >&2; exit 127',
        ],
        { env },
      );
    }
    // proot: an empty root of the instance's own (-r) with only the system directories bound in: no
    // host /home, /proc, state directory or key file is reachable.
    const jail = join(this.dataDir, 'jail');
    mkdirSync(jail, { recursive: true });
    const binds = SYSTEM_DIRS.filter((d) => existsSync(`/${d}`)).flatMap((d) => ['-b', `/${d}`]);
    const args = [
      '-r',
      jail,
      ...binds,
      '-b',
      '/dev',
      '-b',
      `${join(root, 'workspace')}:/workspace`,
      '-b',
      `${join(root, 'root')}:/root`,
      '-b',
      `${this.binDir}:/.vast-sim/bin`,
      '-w',
      '/workspace',
      // An SSH session's command leads its own session and group, as under sshd (see InstanceNamespaces.spawn).
      ...(opts.sshSession && existsSync('/usr/bin/setsid') ? ['/usr/bin/setsid'] : []),
      '/bin/sh',
      '-c',
      command,
    ];
    return spawn(this.proot!, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  }
}

const NVIDIA_SMI = `#!/bin/sh
# Simulated nvidia-smi: prints the instance's GPUs.
n=\${SIM_GPU_COUNT:-1}
if [ "$1" = "-L" ]; then
  i=0; while [ $i -lt $n ]; do echo "GPU $i: $SIM_GPU_NAME (UUID: GPU-sim-0000-$i)"; i=$((i+1)); done; exit 0
fi
if [ "$1" = "--query-gpu=name,memory.total" ] || [ "$1" = "--query-gpu=name" ]; then
  i=0; while [ $i -lt $n ]; do echo "$SIM_GPU_NAME, $SIM_GPU_RAM_MIB MiB"; i=$((i+1)); done; exit 0
fi
echo "+-----------------------------------------------------------------------------------------+"
echo "| NVIDIA-SMI $SIM_DRIVER             Driver Version: $SIM_DRIVER     CUDA Version: $SIM_CUDA     |"
echo "|-----------------------------------------+------------------------+----------------------+"
i=0; while [ $i -lt $n ]; do
  printf "| %3d  %-36s|   0MiB / %6sMiB      |      0%%      Default |\\n" $i "$SIM_GPU_NAME" "$SIM_GPU_RAM_MIB"
  i=$((i+1))
done
echo "+-----------------------------------------------------------------------------------------+"
`;
