import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostileTrees } from '../../scripts/campaign/hostile-tree.js';
import { destroyUnjustified } from '../../scripts/campaign/invariants.js';

/** The campaign's new invariants must be able to fire: each is shown counting a violation. */
describe('destroys_without_approval_and_copy (issue 11: platform-side restarts)', () => {
  it.each([
    ['no approval', undefined, [100], 50, true],
    ['a discard', { discard: true }, [], 50, false],
    ['a copy after the last start', { discard: false }, [120], 100, false],
    ['only a copy from before a host restart', { discard: false }, [90], 100, true],
    ['a copy within the clock slack of the restart', { discard: false }, [99], 100, false],
    ['no copy at all', { discard: false }, [], 0, true],
  ] as const)('%s → counted: %s', (_what, approval, copies, since, counted) => {
    expect(destroyUnjustified(approval, [...copies], since)).toBe(counted);
  });
});

describe('copy_root_escapes (issue 11: hostile symlink trees)', () => {
  let base: string;
  let trees: HostileTrees;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'vast-mcp-escapes-'));
    mkdirSync(join(base, 'state'));
    trees = new HostileTrees(base, join(base, 'copies'), join(base, 'state'));
    trees.setup();
    trees.beforeSequence();
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('stays 0 when writes stay inside the copy root and the state directory', () => {
    mkdirSync(join(base, 'copies', 'run-1'), { recursive: true });
    writeFileSync(join(base, 'copies', 'run-1', 'a.bin'), 'x');
    writeFileSync(join(base, 'state', 'ledger.jsonl'), '{}\n');
    trees.afterSequence();
    expect(trees.escapes).toBe(0);
  });

  it('counts a file written through a link into the home', () => {
    writeFileSync(join(base, 'home-canary', 'written-through-link'), 'pwned');
    trees.afterSequence();
    expect(trees.escapes).toBeGreaterThan(0);
    expect(trees.notes.join('\n')).toMatch(/written-through-link/);
  });

  it('counts a link the copy created inside the copy root', () => {
    symlinkSync('/etc', join(base, 'copies', 'etc'));
    trees.afterSequence();
    expect(trees.escapes).toBe(1);
    expect(trees.notes[0]).toMatch(/created a link etc/);
  });

  it('counts a change to a file outside the copy root', () => {
    writeFileSync(join(base, 'home-canary', '.bashrc'), 'export PS1=owned\n');
    trees.afterSequence();
    expect(trees.escapes).toBe(1);
  });
});
