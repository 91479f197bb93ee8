import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519 } from '../../server/ssh/keygen.js';
import { SshSession } from '../../server/ssh/ssh-session.js';

const hostKey = generateEd25519().private;
const clientKey = generateEd25519();
const closers: (() => void)[] = [];
afterEach(() => {
  while (closers.length) closers.pop()!();
});

/**
 * An sshd whose exec channels end at once with `code`: the channel confirmation, the exit status, the EOF
 * and the close leave in ONE TCP write (the socket is corked), so the client reads them in one chunk, as
 * happens on Node 22 with a command that prints nothing. A client that attaches its exit listener after
 * an await misses the status.
 */
async function instantExitSshd(code: number): Promise<number> {
  const sockets: Socket[] = [];
  let current: Socket | null = null;
  const srv = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    const sock = current!;
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec) => {
        sock.cork();
        const ch = acceptExec();
        ch.exit(code);
        ch.end();
        process.nextTick(() => sock.uncork());
      });
    });
  });
  const tcp: Server = createServer((sock) => {
    current = sock;
    sockets.push(sock);
    sock.on('error', () => undefined);
    srv.injectSocket(sock);
  });
  closers.push(() => {
    for (const x of sockets) x.destroy();
    tcp.close();
  });
  return new Promise((resolve) => tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as AddressInfo).port)));
}

describe('exit status of a command that ends at once', () => {
  it.each([0, 3])('exec reports exit code %i when the status arrives with the channel confirmation', async (code) => {
    const port = await instantExitSshd(code);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    for (let i = 0; i < 5; i++) {
      const r = await s.exec('true', 5_000, 1024);
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(code);
    }
  });

  it('a channel consumer that listens for exit after the await still gets the status', async () => {
    const port = await instantExitSshd(7);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    const ch = await s.channel('true');
    await new Promise((r) => setImmediate(r)); // the status is long in
    const got = await new Promise<number | null>((resolve) => {
      let code: number | null = null;
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => resolve(code));
      ch.resume();
    });
    expect(got).toBe(7);
  });
});
