import { describe, expect, it } from 'vitest';
import { completeLines, parseProbe } from '../../server/jobs/remote-agent.js';

const SEP = '@@vast-job@@\n';

describe('reading the worker (hostile instance)', () => {
  it('parses a normal probe', () => {
    expect(parseProbe(`12 1700000000\n${SEP}0\n${SEP}terminated\ngo\n${SEP}step-000010\nstep-000005\n`)).toEqual({
      heartbeat: 12,
      exitCode: 0,
      terminated: true,
      started: true,
      checkpoints: [5, 10],
    });
  });

  it.each([
    ['garbage heartbeat and exit code', `rm -rf /\n${SEP}zero\n${SEP}${SEP}`, { heartbeat: null, exitCode: null, checkpoints: [] }],
    [
      'checkpoint names that are not ours',
      `1 1\n${SEP}${SEP}go\n${SEP}step-../../etc\nstep-1\nstep-000007.tmp\nstep-000003\n`,
      { heartbeat: 1, checkpoints: [3] },
    ],
    ['an empty answer', '', { heartbeat: null, exitCode: null, terminated: false, started: false, checkpoints: [] }],
  ])('ignores %s', (_name, text, expected) => {
    expect(parseProbe(text)).toMatchObject(expected);
  });

  it('keeps only complete lines, without control characters (terminal escapes), each capped', () => {
    const buf = Buffer.from(`ok line\n\u001b[2J\u001b]0;pwned\u0007cleared\n${'x'.repeat(5000)}\npartial`);
    const r = completeLines(buf);
    expect(r.lines[0]).toBe('ok line');
    expect(r.lines[1]).toBe('[2J]0;pwnedcleared');
    expect(r.lines[2]).toHaveLength(4096);
    expect(r.consumed).toBe(buf.length - 'partial'.length);
    expect(completeLines(Buffer.from('no newline yet'))).toEqual({ lines: [], consumed: 0 });
  });
});
