import type ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';

export interface Endpoint {
  host: string;
  port: number;
  kind: 'direct' | 'proxy';
}

export class SshError extends Error {
  constructor(
    message: string,
    readonly kind: 'auth' | 'refused' | 'timeout' | 'reset' | 'other',
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
}

function classify(e: Error & { level?: string; code?: string }): SshError {
  if (e.level === 'client-authentication') return new SshError('the server refused our SSH key', 'auth');
  if (e.code === 'ECONNREFUSED') return new SshError('connection refused', 'refused');
  if (e.code === 'ECONNRESET' || /reset|closed/i.test(e.message)) return new SshError(`connection lost (${e.message})`, 'reset');
  if (/timed out/i.test(e.message)) return new SshError('connection timed out', 'timeout');
  return new SshError(e.message, 'other');
}

/** One SSH connection to an instance (adapter: no MCP here). */
export class SshSession {
  private constructor(private readonly client: InstanceType<typeof ssh2.Client>) {}

  static async connect(endpoint: Endpoint, privateKey: string, readyTimeoutMs = 15_000): Promise<SshSession> {
    // ssh2 is loaded on first use, to keep start-up fast.
    const { default: lib } = await import('ssh2');
    return new Promise((resolve, reject) => {
      const client = new lib.Client();
      client.once('ready', () => resolve(new SshSession(client)));
      client.once('error', (e) => reject(classify(e)));
      client.connect({
        host: endpoint.host, port: endpoint.port, username: 'root', privateKey, readyTimeout: readyTimeoutMs, keepaliveInterval: 10_000,
        // AES-GCM runs in Node's native crypto; chacha20 falls back to pure JS when ssh2's optional addon is absent.
        algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'] },
      });
    });
  }

  /** Opens an exec channel; the caller consumes its streams. */
  channel(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch) => (err ? reject(classify(err)) : resolve(ch)));
    });
  }

  /** Runs a command; keeps only the last `capBytes` of each stream; kills it at the timeout. */
  async exec(command: string, timeoutMs: number, capBytes: number, stdin?: Buffer): Promise<ExecResult> {
    const ch = await this.channel(command);
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let timedOut = false;
      const keepTail = (list: Buffer[], chunk: Buffer) => {
        list.push(chunk);
        let total = list.reduce((s, b) => s + b.length, 0);
        while (total - (list[0]?.length ?? 0) >= capBytes && list.length > 1) total -= list.shift()!.length;
      };
      const timer = setTimeout(() => {
        timedOut = true;
        ch.signal('KILL');
        ch.close();
      }, timeoutMs);
      let code: number | null = null;
      let signal: string | null = null;
      ch.on('exit', (c: number | null, s?: string) => {
        code = c;
        signal = s ?? null;
      });
      ch.on('data', (d: Buffer) => {
        outBytes += d.length;
        keepTail(out, d);
      });
      ch.stderr.on('data', (d: Buffer) => {
        errBytes += d.length;
        keepTail(err, d);
      });
      ch.on('close', () => {
        clearTimeout(timer);
        const tail = (list: Buffer[]) => {
          const b = Buffer.concat(list);
          return b.length > capBytes ? b.subarray(b.length - capBytes) : b;
        };
        resolve({ code, signal, stdout: tail(out), stderr: tail(err), stdoutBytes: outBytes, stderrBytes: errBytes, timedOut });
      });
      if (stdin) ch.end(stdin);
      else ch.end();
    });
  }

  end(): void {
    this.client.end();
  }
}

/** Single-quotes a string for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
