import { createHash } from 'node:crypto';
import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { escapeForHuman } from '../safety/untrusted-text.js';
import { keepExitStatus } from './exit-status.js';
import { killGroupCommand, PID_WAIT_MS, trackGroup, waitFor } from './group-kill.js';
import { guardProgress, type ProgressRule } from './progress-guard.js';
import { pingMs } from './round-trip.js';
import { TailBuffer } from './tail-buffer.js';

export interface Endpoint {
  host: string;
  port: number;
  kind: 'direct' | 'proxy';
}

export class SshError extends Error {
  constructor(
    message: string,
    readonly kind: 'auth' | 'refused' | 'timeout' | 'reset' | 'host_key' | 'other',
  ) {
    super(message);
  }
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  stdoutBytes: number;
  stderrBytes: number;
  timedOut: boolean;
  /** Ended by the caller's AbortSignal (a client's notifications/cancelled): killed like a timeout. */
  aborted?: boolean;
  /**
   * With `killGroup`, after a timeout or cancel: how the command's process group was ended ('group', 'session',
   * 'shell': killed; 'none': already gone; 'unknown': its pid never arrived; 'failed': the kill could not run).
   */
  killed?: string;
}

export interface ExecOptions {
  /** Aborting kills the command and closes the channel; the result says `aborted`. */
  signal?: AbortSignal;
  /** At a timeout or cancel also kill the command's remote process group (see group-kill.ts). */
  killGroup?: boolean;
}

export interface ConnectOptions {
  /** Handshake deadline (TCP connect to authenticated), default 15 s; a silent port fails at it. */
  readyTimeoutMs?: number;
  /** Sees the host key's fingerprint (`SHA256:<base64>`, as OpenSSH prints it); false refuses the host. */
  verifyHostKey?: (fingerprint: string) => boolean;
}

/** After a kill or close request, how long a channel may take to confirm before we stop waiting for it. */
export const CLOSE_GRACE_MS = 5_000;
/** Opening a channel on an established connection. */
export const CHANNEL_OPEN_TIMEOUT_MS = 30_000;

/** The fingerprint OpenSSH shows for a host key blob. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function classify(e: Error & { level?: string; code?: string }): SshError {
  if (e instanceof SshError) return e;
  if (e.level === 'client-authentication') return new SshError('the server refused our SSH key', 'auth');
  if (e.code === 'ECONNREFUSED') return new SshError('connection refused', 'refused');
  // The host writes part of some messages (its disconnect reason): one inert line, never a forged one.
  const said = escapeForHuman(e.message, 200);
  if (e.code === 'ECONNRESET' || /reset|closed/i.test(e.message)) return new SshError(`connection lost (${said})`, 'reset');
  if (/timed out/i.test(e.message)) return new SshError('connection timed out', 'timeout');
  return new SshError(said, 'other');
}

/**
 * One SSH connection to an instance (adapter: no MCP here). Every failure of the connection, at any
 * time, is handled here (an unhandled `error` event would kill the process), and every operation has a
 * deadline: a host that accepts TCP and stays silent, or never answers a close, cannot hang a call.
 */
export class SshSession {
  private dead: SshError | null = null;
  private readonly onDeath = new Set<(e: SshError) => void>();
  private rtt: Promise<number | null> | null = null;

  private constructor(private readonly client: InstanceType<typeof ssh2.Client>) {
    client.on('error', (e) => this.die(classify(e)));
    client.on('close', () => this.die(new SshError('connection lost (closed by the host)', 'reset')));
  }

  static async connect(endpoint: Endpoint, privateKey: string, options: number | ConnectOptions = 15_000): Promise<SshSession> {
    const opts: ConnectOptions = typeof options === 'number' ? { readyTimeoutMs: options } : options;
    const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
    // ssh2 is loaded on first use, to keep start-up fast.
    const { default: lib } = await import('ssh2');
    return new Promise((resolve, reject) => {
      const client = new lib.Client();
      let refusedKey: string | null = null;
      let settled = false;
      const fail = (e: SshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.destroy();
        reject(e);
      };
      // ssh2's readyTimeout covers the handshake; this one also covers DNS/TCP and a stuck library.
      const timer = setTimeout(
        () => fail(new SshError(`connection timed out (no SSH handshake within ${Math.round(readyTimeoutMs / 1000)} s)`, 'timeout')),
        readyTimeoutMs + 2_000,
      );
      // A permanent listener: ssh2 may emit several errors (timeout, then socket reset); each is handled.
      client.on('error', (e) => fail(refusedKey ? new SshError(`the host presented an unexpected host key ${refusedKey}`, 'host_key') : classify(e)));
      client.on('close', () =>
        fail(
          refusedKey
            ? new SshError(`the host presented an unexpected host key ${refusedKey}`, 'host_key')
            : new SshError('connection lost (closed before the handshake)', 'reset'),
        ),
      );
      client.once('ready', () => {
        if (settled) return void client.destroy();
        settled = true;
        clearTimeout(timer);
        client.removeAllListeners('error');
        client.removeAllListeners('close');
        resolve(new SshSession(client));
      });
      client.connect({
        host: endpoint.host,
        port: endpoint.port,
        username: 'root',
        privateKey,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        // AES-GCM runs in Node's native crypto; chacha20 falls back to pure JS when ssh2's optional addon is absent.
        algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'] },
        hostVerifier: (key: Buffer) => {
          const fp = hostKeyFingerprint(key);
          const ok = opts.verifyHostKey ? opts.verifyHostKey(fp) : true;
          if (!ok) refusedKey = fp;
          return ok;
        },
      });
    });
  }

  /** Why the connection is gone, or null while it lives. */
  get failure(): SshError | null {
    return this.dead;
  }

  private die(e: SshError): void {
    if (this.dead) return;
    this.dead = e;
    for (const f of [...this.onDeath]) f(e);
    this.onDeath.clear();
  }

  /**
   * The link's round trip in ms, timed once per connection (the better of two pings sent together);
   * null when it cannot be timed. Ask before any bulk transfer starts: a reply queues behind data.
   */
  roundTripMs(): Promise<number | null> {
    this.rtt ??= Promise.all([pingMs(this.client), pingMs(this.client)]).then(([a, b]) => (a === null ? b : b === null ? a : Math.min(a, b)));
    return this.rtt;
  }

  /** Runs `f` if the connection dies; returns the unsubscribe. */
  onFailure(f: (e: SshError) => void): () => void {
    if (this.dead) {
      f(this.dead);
      return () => undefined;
    }
    this.onDeath.add(f);
    return () => this.onDeath.delete(f);
  }

  /**
   * Opens an exec channel; the caller consumes its streams. Fails if not open within `openTimeoutMs`.
   * With `progress`, the channel is destroyed with a `timeout` SshError when the transfer stalls.
   */
  channel(command: string, openTimeoutMs = CHANNEL_OPEN_TIMEOUT_MS, opts: { progress?: ProgressRule } = {}): Promise<ClientChannel> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (e: SshError | null, ch?: ClientChannel) => {
        if (done) return void ch?.close();
        done = true;
        clearTimeout(timer);
        off();
        if (e) reject(e);
        else resolve(ch!);
      };
      const off = this.onFailure((e) => finish(e));
      const timer = setTimeout(() => this.drop(`the host did not open a channel within ${Math.round(openTimeoutMs / 1000)} s`), openTimeoutMs);
      try {
        this.client.exec(command, (err, ch) => {
          if (err) return finish(classify(err));
          keepExitStatus(ch); // before any await: the status may be in the same read as the confirmation
          if (opts.progress) guardProgress(ch, opts.progress, (why) => new SshError(`the transfer ${why}`, 'timeout'));
          finish(null, ch);
        });
      } catch (e) {
        finish(classify(e as Error));
      }
    });
  }

  /**
   * Runs a command; keeps only the last `capBytes` of each stream; kills it at the timeout. If the host
   * then does not confirm the close within CLOSE_GRACE_MS, the connection is dropped and the result
   * returned anyway (timedOut). A connection lost mid-command rejects with a `reset` SshError. `opts.signal`
   * ends the command the same way as the timeout (the result says `aborted`).
   */
  async exec(command: string, timeoutMs: number, capBytes: number, stdin?: Buffer, opts: ExecOptions = {}): Promise<ExecResult> {
    const { signal: abortSignal } = opts;
    if (abortSignal?.aborted) throw new SshError('the command was cancelled before it started', 'other');
    const group = opts.killGroup ? trackGroup(command) : null;
    const ch = await this.channel(group ? group.command : command);
    return new Promise((resolve, reject) => {
      const out = new TailBuffer(capBytes);
      const err = new TailBuffer(capBytes);
      let timedOut = false;
      let aborted = false;
      let code: number | null = null;
      let signal: string | null = null;
      let finished = false;
      let grace: NodeJS.Timeout | undefined;
      let groupKill: Promise<string> | null = null;
      const finish = (failure: SshError | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearTimeout(grace);
        off();
        abortSignal?.removeEventListener('abort', onAbort);
        if (failure && !timedOut && !aborted) return reject(failure);
        const result = { code, signal, stdout: out.bytes(), stderr: err.bytes(), stdoutBytes: out.total, stderrBytes: err.total, timedOut, aborted };
        if (!groupKill) return resolve(result);
        void groupKill.then((killed) => resolve({ ...result, killed }));
      };
      const off = this.onFailure((e) => finish(e));
      // At the timeout or a cancel: SIGKILL to the command (RFC 4254 6.9 "signal"), the channel closed, and with
      // `killGroup` its process group killed by a second command. A host that does not confirm in time is dropped.
      let killing = false;
      const kill = () => {
        if (killing || finished) return;
        killing = true;
        // The shell's pid arrives on stderr as the command starts; a cancel can come first (on a busy host, the
        // command's own effects can be seen before its stderr is read). Wait for it, bounded, before the channel
        // is closed: without it the group cannot be killed.
        if (group && group.pid() === null) void waitFor(() => group.pid() !== null || finished, PID_WAIT_MS).then(killNow);
        else killNow();
      };
      const killNow = () => {
        if (grace || finished) return;
        const pid = group?.pid() ?? null;
        if (group) {
          const bounded = new Promise<string>((r) => setTimeout(() => r('failed'), 2 * CLOSE_GRACE_MS).unref());
          groupKill = pid === null ? Promise.resolve('unknown') : Promise.race([this.killRemoteGroup(pid), bounded]);
        }
        try {
          signalChannel(ch, 'KILL');
          ch.close();
        } catch {
          /* the channel is already gone */
        }
        grace = setTimeout(() => {
          finish(null);
          // It cannot be trusted to finish anything; but the group kill in flight on this connection goes first.
          const drop = () => this.drop('the host did not confirm the end of a killed command');
          if (groupKill) void groupKill.then(drop);
          else drop();
        }, CLOSE_GRACE_MS);
      };
      const onAbort = () => {
        if (timedOut) return;
        aborted = true;
        kill();
      };
      abortSignal?.addEventListener('abort', onAbort, { once: true });
      // A cancel that came while the channel was opening has fired already: the command started, so end it now.
      if (abortSignal?.aborted) queueMicrotask(onAbort);
      const timer = setTimeout(() => {
        if (aborted) return;
        timedOut = true;
        kill();
      }, timeoutMs);
      ch.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s ?? null;
      });
      ch.on('data', (d: Buffer) => out.push(d));
      ch.stderr.on('data', (d: Buffer) => err.push(group ? group.filter(d) : d));
      ch.on('error', (e: Error) => finish(classify(e)));
      ch.on('close', () => finish(null));
      if (stdin) ch.end(stdin);
      else ch.end();
    });
  }

  /** Kills a remote process group over a second channel; says how far it got ('failed' if it could not run). */
  private async killRemoteGroup(pid: number): Promise<string> {
    try {
      const r = await this.exec(killGroupCommand(pid), CLOSE_GRACE_MS, 256);
      const said = r.stdout.toString('utf8').trim();
      return ['group', 'session', 'shell', 'none'].includes(said) ? said : 'failed';
    } catch {
      return 'failed';
    }
  }

  /** Drops the connection at once, failing everything in flight on it with `reason`. */
  drop(reason: string): void {
    this.die(new SshError(reason, 'timeout'));
    this.client.destroy();
  }

  end(): void {
    try {
      this.client.end();
    } finally {
      // end() waits for the host; destroy() does not. A silent host must not keep the socket.
      setTimeout(() => this.client.destroy(), CLOSE_GRACE_MS).unref();
    }
  }
}

interface ChannelInternals {
  outgoing: { id: number; state: string };
  _client?: { _protocol?: { signal(id: number, name: string): void } };
}

/**
 * Sends a "signal" request (RFC 4254 6.9) on an exec channel. ssh2's `ClientChannel.signal()` sends nothing
 * once our side has sent EOF (it checks `writable`), and `exec` sends EOF at once when there is no stdin: so
 * every kill at a timeout was silently dropped. The RFC does not tie signals to our half of the channel;
 * this goes to the protocol layer while the channel is open or half-closed by us.
 */
export function signalChannel(ch: ClientChannel, name: string): void {
  const c = ch as unknown as ChannelInternals;
  const protocol = c._client?._protocol;
  if (protocol && (c.outgoing.state === 'open' || c.outgoing.state === 'eof')) protocol.signal(c.outgoing.id, name);
  else ch.signal(name);
}

/** Single-quotes a string for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
