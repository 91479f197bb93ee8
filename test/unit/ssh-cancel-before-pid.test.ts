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
 * An sshd on a busy host: a command's stderr (where its shell announces its pid) reaches the client only
 * after `markerDelayMs`, and the command runs until a second command kills its process group. It records
 * every command it was asked to run.
 */
async function slowStderrSshd(markerDelayMs: number, acceptDelayMs = 0): Promise<{ port: number; commands: string[] }> {
  const commands: string[] = [];
  const sockets: Socket[] = [];
  const running: ssh2.ServerChannel[] = [];
  const srv = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => ctx.accept());
    client.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec, _reject, info) => {
        commands.push(info.command);
        const tagged = /printf 'vast-mcp-pid:/.test(info.command);
        if (tagged && acceptDelayMs) setTimeout(() => run(acceptExec, info), acceptDelayMs);
        else run(acceptExec, info);
      });
      const run = (acceptExec: () => ssh2.ServerChannel, info: { command: string }) => {
        const ch = acceptExec();
        const tag = /printf '(vast-mcp-pid:[0-9a-f]+:)%s/.exec(info.command)?.[1];
        if (tag) {
          running.push(ch);
          setTimeout(() => ch.stderr.write(`${tag}4242\n`), markerDelayMs);
          return;
        }
        if (/kill -KILL -4242\b/.test(info.command)) {
          ch.write('group\n');
          for (const r of running.splice(0)) {
            r.exit('SIGKILL');
            r.close();
          }
        }
        ch.exit(0);
        ch.close();
      };
    });
  });
  const tcp: Server = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => undefined);
    srv.injectSocket(sock);
  });
  closers.push(() => {
    for (const x of sockets) x.destroy();
    tcp.close();
  });
  const port = await new Promise<number>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as AddressInfo).port)));
  return { port, commands };
}

describe('a cancel that comes before the command announced its pid', () => {
  it('waits for the pid (bounded) and kills the process group, instead of leaving the command running', async () => {
    const { port, commands } = await slowStderrSshd(400);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await s.exec('sleep 300', 60_000, 1024, undefined, { signal: ac.signal, killGroup: true });
    expect(r.aborted).toBe(true);
    expect(r.killed).toBe('group');
    expect(commands.filter((c) => /kill -KILL -4242\b/.test(c))).toHaveLength(1);
    // The marker line never reaches the command's own stderr.
    expect(r.stderr.toString()).not.toContain('vast-mcp-pid');
  });

  it('a cancel while the channel is still opening ends the command once it starts', async () => {
    const { port, commands } = await slowStderrSshd(100, 400);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await s.exec('sleep 300', 60_000, 1024, undefined, { signal: ac.signal, killGroup: true });
    expect(r.aborted).toBe(true);
    expect(r.killed).toBe('group');
    expect(commands.filter((c) => /kill -KILL -4242\b/.test(c))).toHaveLength(1);
  }, 20_000);

  it('gives up after the bounded wait when the pid never comes, and says so', async () => {
    const { port, commands } = await slowStderrSshd(60_000);
    const s = await SshSession.connect({ host: '127.0.0.1', port, kind: 'direct' }, clientKey.private);
    closers.push(() => s.end());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const began = Date.now();
    const r = await s.exec('sleep 300', 60_000, 1024, undefined, { signal: ac.signal, killGroup: true });
    expect(r.aborted).toBe(true);
    expect(r.killed).toBe('unknown');
    expect(commands.some((c) => c.includes('kill -KILL'))).toBe(false);
    expect(Date.now() - began).toBeLessThan(15_000);
  }, 20_000);
});
