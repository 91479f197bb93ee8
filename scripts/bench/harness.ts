import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export const MAIN = fileURLToPath(new URL('../../server/main.js', import.meta.url));

export interface Served {
  client: Client;
  pid: number;
  stateDir: string;
  copyRoot: string;
  call(name: string, args: Record<string, unknown>): Promise<Record<string, any>>;
  close(): Promise<void>;
}

/** The built server over stdio, as a chat client would run it. */
export async function serve(url: string, key: string, extraEnv: Record<string, string> = {}): Promise<Served> {
  const base = mkdtempSync(join(tmpdir(), 'vast-mcp-bench-'));
  const stateDir = join(base, 'state');
  const copyRoot = join(base, 'copies');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MAIN],
    env: { PATH: process.env.PATH ?? '', HOME: base, VAST_URL: url, VAST_API_KEY: key, VAST_MCP_STATE_DIR: stateDir, VAST_MCP_COPY_ROOT: copyRoot, VAST_MCP_LOG_LEVEL: 'warn', ...extraEnv },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  return {
    client,
    pid: transport.pid!,
    stateDir,
    copyRoot,
    async call(name, args) {
      const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as CallToolResult;
      if (r.isError) throw new Error(`${name} failed: ${r.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ')}`);
      return r.structuredContent as Record<string, any>;
    },
    close: () => client.close(),
  };
}

/** Peak resident set size of a process (VmHWM), in MB. */
export function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs a Debian package when missing and we may (root); false if it is still missing. */
export function ensureTool(cmd: string, pkg = cmd): boolean {
  if (has(cmd)) return true;
  if (process.getuid?.() !== 0) return false;
  spawnSync('sh', ['-c', `apt-get install -y -qq ${pkg} >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq ${pkg} >/dev/null 2>&1)`], { stdio: 'ignore' });
  return has(cmd);
}

export function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    p.stderr.on('data', (c) => (stderr += String(c)));
    p.on('close', (code) => resolve({ ms: performance.now() - started, code, stderr }));
  });
}

/** Runs per copy row: `BENCH_RUNS` (default 3), more for a steadier median on a noisy machine (scp alone varies by ±10 % here). */
export function benchRuns(): number {
  return Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);
}
