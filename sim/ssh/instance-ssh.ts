import { createServer, connect, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey, ServerChannel } from 'ssh2';
import type { SimInstance } from '../types.js';
import type { InstanceSandbox } from './sandbox.js';
import { serveSftp } from './sftp-handler.js';
import { Delay, Throttle, type LinkShape } from './throttle.js';

export interface SshHooks {
  isRunning(inst: SimInstance): boolean;
  /** Bytes that left the instance (upload) and came in (download), for billing. */
  countBytes(inst: SimInstance, up: number, down: number): void;
  log(inst: SimInstance, line: string): void;
  /** Faults: a chance to cut a connection after N bytes out of the instance, or corrupt one byte. */
  faults: { resetAfterBytes: number | null; flipByteAt: number | null };
  /** Shaping of the direct endpoint (null: loopback as it is); read at each new connection. */
  link: () => LinkShape | null;
}

const listen = (server: NetServer): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

function allowedKeys(inst: SimInstance): ParsedKey[] {
  const out: ParsedKey[] = [];
  for (const k of inst.sshKeys) {
    const parsed = ssh2.utils.parseKey(k.publicKey);
    if (!(parsed instanceof Error)) out.push(Array.isArray(parsed) ? parsed[0]! : parsed);
  }
  return out;
}

/**
 * One instance's SSH: a real ssh2 server (exec + SFTP inside the sandbox) on the direct port, and a
 * throttled TCP relay in front of it on the proxy port, as the platform's ssh proxy is slow.
 */
export class InstanceSsh {
  private readonly ssh: InstanceType<typeof ssh2.Server>;
  private readonly direct = createServer((s) => this.acceptDirect(s));
  private readonly proxy = createServer((s) => this.acceptProxy(s));
  /** The unshaped SSH server behind a shaped direct endpoint. */
  private readonly inner = createServer((s) => this.acceptInner(s, false));
  private innerPort = 0;
  private readonly sockets = new Set<Socket>();
  private readonly children = new Set<ChildProcess>();
  directPort = 0;
  proxyPort = 0;

  constructor(
    private readonly inst: SimInstance,
    hostKey: string,
    private readonly sandbox: InstanceSandbox,
    private readonly proxyBytesPerSecond: number,
    private readonly hooks: SshHooks,
  ) {
    this.ssh = new ssh2.Server({ hostKeys: [hostKey] }, (client) => this.onClient(client));
  }

  async start(): Promise<void> {
    this.directPort = await listen(this.direct);
    this.proxyPort = await listen(this.proxy);
    this.innerPort = await listen(this.inner);
  }

  private acceptDirect(socket: Socket): void {
    if (!this.hooks.isRunning(this.inst)) return void socket.destroy();
    const shape = this.hooks.link();
    if (shape) return this.relay(socket, this.innerPort, shape.rttMs / 2, shape.bytesPerSecond, true);
    this.acceptInner(socket, true);
  }

  /** `bill`: false behind a shaped relay, which counts the bytes on the outer connection. */
  private acceptInner(socket: Socket, bill: boolean): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (bill) this.hooks.countBytes(this.inst, socket.bytesWritten, socket.bytesRead);
    });
    this.ssh.injectSocket(socket);
  }

  private acceptProxy(socket: Socket): void {
    if (!this.hooks.isRunning(this.inst)) return void socket.destroy();
    this.relay(socket, this.directPort, 0, this.proxyBytesPerSecond, false);
  }

  /** A TCP relay with a one-way delay and/or a bandwidth cap in each direction. */
  private relay(socket: Socket, port: number, delayMs: number, bytesPerSecond: number | null, bill: boolean): void {
    const upstream = connect(port, '127.0.0.1');
    this.sockets.add(socket);
    this.sockets.add(upstream);
    let ended = false;
    const end = () => {
      if (bill && !ended) this.hooks.countBytes(this.inst, socket.bytesWritten, socket.bytesRead);
      ended = true;
      socket.destroy();
      upstream.destroy();
      this.sockets.delete(socket);
      this.sockets.delete(upstream);
    };
    socket.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    const shaped = (from: Socket, to: Socket) => {
      let s: NodeJS.ReadableStream = from;
      if (delayMs > 0) s = s.pipe(new Delay(delayMs));
      if (bytesPerSecond) s = s.pipe(new Throttle(bytesPerSecond));
      s.pipe(to);
    };
    shaped(socket, upstream);
    shaped(upstream, socket);
  }

  private onClient(client: Connection): void {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.username !== 'root') return ctx.reject(['publickey']);
      const key = allowedKeys(this.inst).find((k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data));
      if (!key) return ctx.reject(['publickey']);
      if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('env', (accept) => accept?.());
        session.on('pty', (_accept, reject) => reject?.());
        session.on('exec', (accept, _reject, info) => this.exec(accept(), info.command));
        session.on('sftp', (accept) => serveSftp(accept(), (p) => this.sandbox.hostPath(this.inst.id, p)));
      });
    });
  }

  private exec(channel: ServerChannel, command: string): void {
    const child = this.sandbox.spawnShell(this.inst, command, { sshSession: true });
    this.children.add(child);
    this.hooks.log(this.inst, `exec: ${command.slice(0, 200)}`);
    let sent = 0;
    let logged = 0;
    const { faults } = this.hooks;
    child.stdout!.on('data', (chunk: Buffer) => {
      let data = chunk;
      if (faults.flipByteAt !== null && faults.flipByteAt >= sent && faults.flipByteAt < sent + data.length) {
        data = Buffer.from(data);
        data[faults.flipByteAt - sent]! ^= 0xff;
        faults.flipByteAt = null;
      }
      sent += data.length;
      if (faults.resetAfterBytes !== null && sent >= faults.resetAfterBytes) {
        faults.resetAfterBytes = null;
        for (const s of this.sockets) s.destroy();
        child.kill('SIGKILL');
        return;
      }
      if (logged < 8192) {
        this.hooks.log(this.inst, data.toString('utf8', 0, Math.min(data.length, 8192 - logged)).trimEnd());
        logged += data.length;
      }
      if (!channel.write(data)) {
        child.stdout!.pause();
        channel.once('drain', () => child.stdout!.resume());
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (logged < 8192) {
        this.hooks.log(this.inst, chunk.toString('utf8').trimEnd());
        logged += chunk.length;
      }
      channel.stderr.write(chunk);
    });
    channel.pipe(child.stdin!).on('error', () => undefined);
    child.on('close', (code, signal) => {
      this.children.delete(child);
      try {
        channel.exit(code ?? (signal ? 128 : 1));
        channel.end();
      } catch {
        /* channel already gone */
      }
    });
  }

  /** Ends every connection and command (stop, destroy). */
  disconnectAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    for (const c of this.children) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        c.kill('SIGKILL');
      }
    }
    this.children.clear();
  }

  async close(): Promise<void> {
    this.disconnectAll();
    await Promise.all([this.direct, this.proxy, this.inner].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  }
}
