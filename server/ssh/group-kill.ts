import { randomBytes } from 'node:crypto';

/**
 * Ending a remote command for good. A "signal" request reaches it only on hosts whose sshd honours signals
 * after our EOF (OpenSSH does, with killpg; ssh2-based servers refuse them), and closing the channel does not
 * end a command without a pty (sshd, session.c: a session with a live child and no tty is left to run). So the
 * command first prints its shell's pid (sshd makes that shell the leader of its own session and process group:
 * do_exec_no_pty calls setsid) on stderr behind a one-time marker; at a timeout or a cancel a second short
 * command kills that group. The marker line is removed from the output; the pid is instance-controlled and only
 * ever used, checked as digits, to signal processes on that same instance.
 */
export interface GroupTracker {
  /** The command to run instead: the marker line, then the original command on its own line. */
  command: string;
  /** Feeds stderr; returns what belongs to the command's own stderr (the marker line removed). */
  filter(chunk: Buffer): Buffer;
  /** The remote shell's pid once seen. */
  pid(): number | null;
}

const MAX_MARKER_BYTES = 128;
/** How long a cancel or timeout waits for the command's pid marker before closing its channel (ms). */
export const PID_WAIT_MS = 3_000;

/** Resolves once `done()` holds or after `ms`, checking every 20 ms. */
export function waitFor(done: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve) => {
    const check = () => (done() || Date.now() >= until ? resolve() : setTimeout(check, 20).unref());
    check();
  });
}

export function trackGroup(command: string): GroupTracker {
  const nonce = randomBytes(8).toString('hex');
  const tag = `vast-mcp-pid:${nonce}:`;
  let pending: Buffer | null = Buffer.alloc(0);
  let pid: number | null = null;
  return {
    // A line of its own: sh runs it before parsing (or failing to parse) the command after it.
    command: `printf '${tag}%s\\n' "$$" >&2\n${command}`,
    filter(chunk) {
      if (pending === null) return chunk;
      const buf = Buffer.concat([pending, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0 && buf.length < MAX_MARKER_BYTES) {
        pending = buf;
        return Buffer.alloc(0);
      }
      pending = null;
      const line = buf.subarray(0, Math.max(0, nl)).toString('latin1');
      if (nl >= 0 && line.startsWith(tag)) {
        const n = line.slice(tag.length);
        if (/^\d{1,10}$/.test(n) && Number(n) > 1) pid = Number(n);
        return buf.subarray(nl + 1);
      }
      return buf;
    },
    pid: () => pid,
  };
}

/** Kills the process group led by `pid` (else its session, else the shell alone); prints what it did. */
export function killGroupCommand(pid: number): string {
  const p = String(Math.trunc(pid));
  return `if kill -KILL -${p} 2>/dev/null; then echo group; elif pkill -KILL -s ${p} 2>/dev/null; then echo session; elif kill -KILL ${p} 2>/dev/null; then echo shell; else echo none; fi`;
}
