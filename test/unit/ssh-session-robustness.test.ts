import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519 } from '../../server/ssh/keygen.js';
import { SshError, SshSession } from '../../server/ssh/ssh-session.js';

const hostKey = generateEd25519().private;
const clientKey = generateEd25519();
const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A TCP port that accepts and never says anything. */
async function silentPort(): Promise<number> {
  const sockets: Socket[] = [];
  const s = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => undefined);
  });
  closers.push(() => {
    for (const x of sockets) x.destroy();
    s.close();
  });
  return listen(s);
}

/**
 * An sshd whose exec channels print `bytes` one byte at a time and then go deaf: the host stops reading,
 * so it never answers a kill, a close or anything else.
 */
async function stubbornSshd(bytes = 0): Promise<number> {
  let current: Socket | null = null;
  const sockets: Socket[] = [];
  const tcp = createServer((sock) => {
    current = sock;
    sockets.push(sock);
    sock.on('error', () => undefined);
    srv.injectSocket(sock);
  });
  const srv = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    const sock = current!;
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec) => {
        const ch = acceptExec();
        for (let i = 0; i < bytes; i++) ch.write(Buffer.from([65 + (i % 26)]));
        sock.pause(); // never reads the kill or the close
      });
    });
  });
  closers.push(() => {
    for (const x of sockets) x.destroy();
    tcp.close();
  });
  return listen(tcp);
}

describe('SSH sessions against hostile hosts', () => {
  it('a port that accepts TCP and stays silent fails the connect with a timeout, and the process lives', async () => {
    const port = await silentPort();
    const errors: unknown[] = [];
    const onUncaught = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const e = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private, 400).catch((x) => x);
      expect(e).toBeInstanceOf(SshError);
      expect((e as SshError).kind).toBe('timeout');
      await new Promise((r) => setTimeout(r, 300)); // late socket errors, if any, must be handled too
      expect(errors).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a command on a host that never answers the kill or the close returns after the timeout with its output', async () => {
    const port = await stubbornSshd(3000);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    const r = await s.exec('anything', 300, 1024);
    expect(s.failure).not.toBeNull(); // the deaf connection was dropped
    expect(r.timedOut).toBe(true);
    expect(r.stdoutBytes).toBe(3000);
    expect(r.stdout.length).toBe(1024);
    expect(r.code).toBeNull();
  }, 20_000);

  it('a channel with a progress rule ends when the host stops sending, instead of hanging', async () => {
    const port = await stubbornSshd(3000);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    const ch = await s.channel('cat big-file', undefined, { progress: { minBytes: 10_000, windowMs: 300, direction: 'in' } });
    const e = await new Promise<unknown>((resolve) => {
      ch.on('error', resolve);
      ch.on('data', () => undefined);
    });
    expect(e).toBeInstanceOf(SshError);
    expect((e as SshError).kind).toBe('timeout');
    expect((e as SshError).message).toMatch(/stalled/);
  }, 20_000);

  it('refuses a host whose key the verifier rejects, naming the fingerprint', async () => {
    const port = await stubbornSshd();
    let seen = '';
    const e = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private, {
      verifyHostKey: (fp) => ((seen = fp), false),
    }).catch((x) => x);
    expect(seen).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(e).toBeInstanceOf(SshError);
    expect((e as SshError).kind).toBe('host_key');
    expect((e as SshError).message).toContain(seen);
  });
});
