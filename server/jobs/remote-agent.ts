import { shellQuote, type SshSession } from '../ssh/ssh-session.js';
import { AGENT_DIR } from './worker-agent.js';

/** What one look at the worker shows. Everything here was written by the instance: parsed strictly. */
export interface AgentProbe {
  /** The heartbeat counter (grows while the agent lives), or null when absent/unreadable. */
  heartbeat: number | null;
  exitCode: number | null;
  terminated: boolean;
  started: boolean;
  /** Steps of complete checkpoints (a step-NNNNNN directory holding its manifest), ascending. */
  checkpoints: number[];
}

const PROBE_TIMEOUT_MS = 30_000;
export const LOG_CHUNK_BYTES = 256 * 1024;
const SEP = '@@vast-job@@';

export function parseProbe(text: string): AgentProbe {
  const [hb = '', code = '', flags = '', ckpts = ''] = text.split(`${SEP}\n`);
  const hbm = /^(\d{1,12}) \d{1,12}\s*$/.exec(hb);
  const codem = /^(\d{1,3})\s*$/.exec(code);
  const steps = ckpts
    .split('\n')
    .map((l) => /^step-(\d{6,9})$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  return {
    heartbeat: hbm ? Number(hbm[1]) : null,
    exitCode: codem ? Number(codem[1]) : null,
    terminated: /\bterminated\b/.test(flags),
    started: /\bgo\b/.test(flags),
    checkpoints: [...new Set(steps)].sort((a, b) => a - b),
  };
}

/** One exec reads the heartbeat, the exit code, flags and the complete checkpoints. */
export async function probeAgent(session: SshSession, checkpointDir: string): Promise<AgentProbe> {
  const J = AGENT_DIR;
  const cmd = [
    `cat ${J}/heartbeat 2>/dev/null | head -c 64; echo '${SEP}'`,
    `cat ${J}/exit_code 2>/dev/null | head -c 16; echo '${SEP}'`,
    `[ -f ${J}/terminated ] && echo terminated; [ -f ${J}/go ] && echo go; echo '${SEP}'`,
    `for d in ${shellQuote(checkpointDir)}/step-*; do [ -f "$d/manifest" ] && basename "$d"; done 2>/dev/null | tail -n 1000`,
  ].join('; ');
  const r = await session.exec(cmd, PROBE_TIMEOUT_MS, 256 * 1024);
  return parseProbe(r.stdout.toString('utf8'));
}

/** Log bytes after `offset` across the numbered log files (they only grow, and new ones sort last). */
export async function readAgentLogs(session: SshSession, offset: number): Promise<Buffer> {
  const cmd = `cat ${AGENT_DIR}/logs/*.log 2>/dev/null | tail -c +${Math.max(0, Math.floor(offset)) + 1} | head -c ${LOG_CHUNK_BYTES}`;
  return (await session.exec(cmd, PROBE_TIMEOUT_MS, LOG_CHUNK_BYTES)).stdout;
}

/** Tells the agent that inputs and the checkpoint are in place: it starts the command. */
export async function sendGo(session: SshSession): Promise<void> {
  const r = await session.exec(`mkdir -p ${AGENT_DIR} && : > ${AGENT_DIR}/go.tmp && mv ${AGENT_DIR}/go.tmp ${AGENT_DIR}/go`, PROBE_TIMEOUT_MS, 4096);
  if (r.code !== 0) throw new Error(`could not start the worker (exit ${r.code})`);
}

/** SIGTERM to the agent, which forwards it to the command and waits out the grace period. */
export async function terminateAgent(session: SshSession): Promise<boolean> {
  const r = await session.exec(`p=$(cat ${AGENT_DIR}/agent.pid 2>/dev/null) && kill -TERM "$p" 2>/dev/null && echo sent`, PROBE_TIMEOUT_MS, 4096);
  return r.stdout.toString('utf8').includes('sent');
}

/** Splits log bytes into complete lines (the tail of an unfinished line waits for the next read). */
export function completeLines(buf: Buffer): { lines: string[]; consumed: number } {
  const end = buf.lastIndexOf(0x0a);
  if (end < 0) return { lines: [], consumed: 0 };
  const text = buf.subarray(0, end).toString('utf8');
  // Control characters other than tab are dropped: the lines reach a terminal and the model.
  const lines = text.split('\n').map((l) => l.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u009b]/g, '').slice(0, 4096));
  return { lines, consumed: end + 1 };
}
