import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimInstance } from '../types.js';

/**
 * Where an instance's files live and how its commands run: `/workspace` and `/root` inside the
 * instance are its own directories here, mapped with proot (no root needed), so two instances never
 * see each other's files and the host's real /workspace is never touched.
 */
export class InstanceSandbox {
  readonly binDir: string;
  readonly proot: string | null;

  constructor(readonly dataDir: string) {
    this.binDir = join(dataDir, 'bin');
    mkdirSync(this.binDir, { recursive: true });
    writeFileSync(join(this.binDir, 'nvidia-smi'), NVIDIA_SMI);
    chmodSync(join(this.binDir, 'nvidia-smi'), 0o755);
    const found = spawnSync('sh', ['-c', 'command -v proot'], { encoding: 'utf8' });
    this.proot = found.status === 0 ? found.stdout.trim() : null;
  }

  rootOf(id: number): string {
    return join(this.dataDir, 'instances', String(id));
  }

  prepare(id: number): void {
    mkdirSync(join(this.rootOf(id), 'workspace'), { recursive: true });
    mkdirSync(join(this.rootOf(id), 'root'), { recursive: true });
  }

  remove(id: number): void {
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

  /** Runs `sh -c command` inside the instance. */
  spawnShell(inst: SimInstance, command: string): ChildProcess {
    const env: Record<string, string> = {
      HOME: '/root',
      PATH: '/opt/vast-sim/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      VAST_CONTAINERLABEL: `C.${inst.id}`,
      CONTAINER_ID: String(inst.id),
      SIM_GPU_NAME: inst.ask.machine.gpu.name,
      SIM_GPU_COUNT: String(inst.numGpus),
      SIM_GPU_RAM_MIB: String(inst.ask.machine.gpu.ramMb),
      SIM_DRIVER: inst.ask.machine.driverVersion,
      SIM_CUDA: String(inst.ask.machine.cudaMaxGood),
    };
    for (const [k, v] of Object.entries(inst.env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) env[k] = v;
    if (!this.proot) {
      return spawn('sh', ['-c', 'echo "simulator: proot is not installed, so commands cannot run isolated inside the instance; install it with: apt-get install proot" >&2; exit 127'], { env });
    }
    const root = this.rootOf(inst.id);
    const args = ['-b', `${join(root, 'workspace')}:/workspace`, '-b', `${join(root, 'root')}:/root`, '-b', `${this.binDir}:/opt/vast-sim/bin`, '-w', '/workspace', '/bin/sh', '-c', command];
    return spawn(this.proot, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
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
