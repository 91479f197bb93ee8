import { describe, expect, it } from 'vitest';
import { killGroupCommand, trackGroup } from '../../server/ssh/group-kill.js';

const run = (t: ReturnType<typeof trackGroup>, chunks: string[]) => Buffer.concat(chunks.map((c) => t.filter(Buffer.from(c)))).toString();

describe('process group tracking of a remote command', () => {
  it('puts the marker on a line of its own before the command', () => {
    const t = trackGroup('echo hi; exit 3');
    const [first, ...rest] = t.command.split('\n');
    expect(first).toMatch(/^printf 'vast-mcp-pid:[0-9a-f]{16}:%s\\n' "\$\$" >&2$/);
    expect(rest.join('\n')).toBe('echo hi; exit 3');
  });

  it('takes the pid from the marker, even split across chunks, and removes only that line', () => {
    const t = trackGroup('x');
    const tag = t.command.slice("printf '".length, t.command.indexOf('%s'));
    expect(run(t, [tag.slice(0, 5), `${tag.slice(5)}43`, '21\nreal stderr\n', 'more'])).toBe('real stderr\nmore');
    expect(t.pid()).toBe(4321);
  });

  it('keeps stderr whole when the first line is not the marker (a forged or missing one), and has no pid', () => {
    const t = trackGroup('x');
    expect(run(t, ['vast-mcp-pid:0000000000000000:99\n', 'b'])).toBe('vast-mcp-pid:0000000000000000:99\nb');
    expect(t.pid()).toBeNull();
    const u = trackGroup('x');
    expect(run(u, ['y'.repeat(300)])).toBe('y'.repeat(300));
    expect(u.pid()).toBeNull();
  });

  it('refuses a pid that is not plain digits above 1', () => {
    for (const bad of ['1', '0', '-5', '12;rm -rf /', '']) {
      const t = trackGroup('x');
      const tag = t.command.slice("printf '".length, t.command.indexOf('%s'));
      t.filter(Buffer.from(`${tag}${bad}\n`));
      expect(t.pid()).toBeNull();
    }
    expect(killGroupCommand(4321)).toMatch(/^if kill -KILL -4321 2>\/dev\/null; then echo group; elif pkill -KILL -s 4321 /);
  });
});
