import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The `serve` processes of `npm run load`: started, measured and stopped.

/** How a replica is started: the simulator, the files it reads, and the shared store (one state directory for all then). */
export interface ReplicaSetup {
  main: string;
  apiKey: string;
  simUrl: string;
  dir: string;
  tokens: string;
  profiles: string;
  realisticLimits: boolean;
  storeUrl: string | undefined;
}

/** Starts `vast-mcp serve` on a free port and resolves with its URL once it prints `listening on`. */
export function startReplica(i: number, o: ReplicaSetup): Promise<{ url: string; proc: ChildProcess }> {
  const { dir, storeUrl } = o;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    VAST_API_KEY: o.apiKey,
    VAST_MCP_LOG_LEVEL: 'warn',
    VAST_MCP_PACING: o.realisticLimits ? 'on' : 'off',
    VAST_MCP_HTTP_RATE_PER_MINUTE: '100000',
    VAST_MCP_HTTP_RATE_BURST: '10000',
    ...(storeUrl ? { VAST_MCP_STORE_URL: storeUrl } : {}),
    // e.g. LOAD_NODE_OPTIONS=--cpu-prof to profile the replicas
    ...(process.env.LOAD_NODE_OPTIONS ? { NODE_OPTIONS: process.env.LOAD_NODE_OPTIONS } : {}),
  };
  const args = [o.main, 'serve', '--port', '0', '--auth-tokens', o.tokens, '--api-url', o.simUrl, '--config', o.profiles];
  args.push('--state-dir', storeUrl ? join(dir, 'state') : join(dir, `state-${i}`));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c) => (err = (err + String(c)).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica ${i} did not start: ${err}`)), 30_000);
    proc.stdout!.on('data', (c) => {
      out += String(c);
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, proc });
      }
    });
    proc.once('exit', (code) => reject(new Error(`replica ${i} exited ${code}: ${err}`)));
  });
}

/** CPU seconds a process used so far (Linux /proc; null elsewhere). */
export function cpuSeconds(pid: number | undefined): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** SIGTERM, then SIGKILL if the graceful shutdown overruns; resolves with the exit code. */
export function stopReplica(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((res) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 45_000);
    proc.once('exit', (c) => {
      clearTimeout(kill);
      res(c);
    });
    proc.kill('SIGTERM');
  });
}
