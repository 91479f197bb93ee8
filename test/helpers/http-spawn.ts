import { spawn, type ChildProcess } from 'node:child_process';
import { cleanEnv, MAIN } from './spawn.js';

export interface SpawnedServe {
  url: string;
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns the BUILT `vast-mcp serve …` and waits for its `listening on URL` line. */
export async function spawnServe(args: string[], env: Record<string, string> = {}): Promise<SpawnedServe> {
  const proc = spawn(process.execPath, [MAIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c) => (err += String(c)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
    proc.stdout!.on('data', (c) => {
      out += String(c);
      const m = /^listening on (http:\/\/\S+\/mcp)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
  return {
    url,
    proc,
    stdout: () => out,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
}
