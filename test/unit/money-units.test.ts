import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { VastApiError } from '../../server/errors.js';
import { BudgetReservations } from '../../server/profiles/reservations.js';
import { projectedBurnPerHour } from '../../server/profiles/budget.js';
import { escapeLine, quoteForHuman } from '../../server/safety/untrusted-text.js';
import { uncoveredFiles } from '../../server/safety/destroy-gate.js';
import { parseFileList } from '../../server/ssh/inspect-disk.js';
import { attemptLabel, contractInError } from '../../server/vast/rent.js';

describe('dialog escaping', () => {
  it.each([
    ['a\nb', 'a\\nb'],
    ['tab\there', 'tab\\there'],
    ['bidi\u202eevil', 'bidi\\u{202E}evil'],
    ['nul\u0000x', 'nul\\u{0000}x'],
  ])('%j → %s', (input, out) => expect(escapeLine(input)).toBe(out));
  it('cuts long text and quotes with escaped quotes', () => {
    expect(escapeLine('x'.repeat(10), 4)).toBe('xxxx…(+6 chars)');
    expect(quoteForHuman('say "hi"\n')).toBe('“say \\"hi\\"\\n”');
  });
});

describe('disk listing for the destroy dialog', () => {
  it('parses NUL-separated records, keeps names with newlines whole, drops a cut last record', () => {
    const raw = Buffer.from('10\t/workspace/a\u000020\t/workspace/b\nc\u00005\t/workspace/cu');
    const s = parseFileList(raw, true);
    expect(s.files).toEqual([
      { path: '/workspace/a', bytes: 10 },
      { path: '/workspace/b\nc', bytes: 20 },
    ]);
    expect(s).toMatchObject({ total_bytes: 30, truncated: true });
  });
  it('lists files no verified copy covers, largest first', () => {
    const copy = {
      type: 'verified_copy' as const,
      instance_id: 1,
      remote_path: '/workspace/a',
      destination: 'x',
      size: 10,
      sha256_remote: 'a',
      sha256_local: 'a',
      at: 0,
    };
    expect(
      uncoveredFiles(
        [
          { path: '/workspace/a', bytes: 10 },
          { path: '/workspace/s', bytes: 1 },
          { path: '/workspace/l', bytes: 99 },
        ],
        [copy],
      ).map((f) => f.path),
    ).toEqual(['/workspace/l', '/workspace/s']);
  });
});

describe('rent reconciliation helpers', () => {
  it('reads a rental from a failed create (typed field, body, or message)', () => {
    expect(contractInError(Object.assign(new Error('x'), { newContract: 77 }))).toBe(77);
    expect(contractInError(Object.assign(new Error('x'), { body: '{"success":false,"new_contract":123}' }))).toBe(123);
    expect(contractInError(new VastApiError('Vast said: {"new_contract": 456, "error":"x"}', 'rejected', 400, 'PUT /asks'))).toBe(456);
    expect(contractInError(new Error('nothing here'))).toBeNull();
  });
  it('gives every attempt its own marker', () => {
    expect([1, 2, 3].map((n) => attemptLabel('ada-abc123', n))).toEqual(['ada-abc123', 'ada-abc123-r2', 'ada-abc123-r3']);
  });
});

describe('budget reservations', () => {
  it('count until their window ends, less what their instances already charged; released ones do not count', async () => {
    const r = new BudgetReservations(mkdtempSync(join(tmpdir(), 'res-')));
    const none = new Map<number, number>();
    const a = await r.reserve(1, ['overall'], 1000, 1000 + 3600, none, () => undefined);
    const b = await r.reserve(2, ['overall', 'project:x'], 1000, 1000 + 3600, none, () => undefined);
    await r.bind(a, [7]);
    await r.release(b);
    expect(await r.outstanding(1100, new Map([[7, 0.25]]))).toEqual([{ id: a, amount: 0.75, per_hour: 0, scopes: ['overall'], instance_ids: [7] }]);
    expect(await r.outstanding(1000 + 3601, none)).toEqual([]);
    await expect(
      r.reserve(5, ['overall'], 1000, 2000, none, () => {
        throw new Error('over budget');
      }),
    ).rejects.toThrow('over budget');
    expect(await r.outstanding(1100, none)).toHaveLength(1);
  });

  it('a lock left by a server killed mid-reservation is broken at once (same host) or after 15 s (another host), a live one is waited for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'res-lock-'));
    const r = new BudgetReservations(dir);
    const none = new Map<number, number>();
    const lock = join(dir, 'reservations.lock');
    // A pid that ran and exited: its lock is broken without waiting.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lock, `${hostname()} ${dead}`);
    const t = Date.now();
    expect(await r.reserve(1, ['overall'], 1000, 2000, none, () => undefined)).toMatch(/^r-/);
    expect(Date.now() - t).toBeLessThan(4000);
    expect(existsSync(lock)).toBe(false);
    // Another host's lock, 16 s old: stale.
    writeFileSync(lock, 'other-host 1 abc');
    utimesSync(lock, new Date(Date.now() - 16_000), new Date(Date.now() - 16_000));
    expect(await r.reserve(1, ['overall'], 1000, 2000, none, () => undefined)).toMatch(/^r-/);
    // A holder whose lock was broken as stale (it stalled) and retaken by another leaves the new lock alone.
    await r.reserve(1, ['overall'], 1000, 2000, none, () => writeFileSync(lock, 'other-host 2 newer'));
    expect(readFileSync(lock, 'utf8')).toBe('other-host 2 newer');
    unlinkSync(lock);
    // A live holder of this host is waited for: a process holding the lock for 1.5 s.
    const child = spawn(process.execPath, [
      '-e',
      `require('fs').writeFileSync(${JSON.stringify(lock)}, require('os').hostname() + ' ' + process.pid); setTimeout(() => require('fs').unlinkSync(${JSON.stringify(lock)}), 1500)`,
    ]);
    try {
      while (!existsSync(lock)) await new Promise((res) => setTimeout(res, 10));
      const t2 = Date.now();
      expect(await r.reserve(1, ['overall'], 1000, 2000, none, () => undefined)).toMatch(/^r-/);
      expect(Date.now() - t2).toBeGreaterThan(1000);
    } finally {
      child.kill();
    }
  }, 20_000);
});

describe('burn at the running price', () => {
  const inst = (o: Record<string, unknown>) => ({ id: 1, storage_cost: 0.1, disk_space: 72, dph_base: 0.5, ...o }) as any;
  it('counts the GPU of an instance still loading, not of one meant to stay stopped', () => {
    expect(projectedBurnPerHour(inst({ actual_status: 'loading', intended_status: 'running' }))).toBe(0.51);
    expect(projectedBurnPerHour(inst({ actual_status: null, intended_status: null }))).toBe(0.51);
    expect(projectedBurnPerHour(inst({ actual_status: 'stopped', intended_status: 'stopped' }))).toBe(0.01);
  });
});

describe('last start when a start record was lost (11.2, 11.15)', () => {
  it('a stopped instance keeps only copies from its last run, even when the start in between was not recorded', async () => {
    const { gateState } = await import('../../server/safety/destroy-gate.js');
    const entries = [
      { action: 'stop', result: 'ok', instance_id: 1, detail: { epoch: 150 } },
      // (a start at 200 whose record was lost; the disk changed after it)
      { action: 'stop', result: 'ok', instance_id: 1, detail: { epoch: 300 } },
    ];
    const audit = { entries: () => entries, entriesShared: async () => entries } as any;
    const copy = (at: number) => ({
      type: 'verified_copy',
      instance_id: 1,
      remote_path: `/w/${at}`,
      destination: 'x',
      size: 1,
      sha256_remote: 'a',
      sha256_local: 'a',
      at,
    });
    const ledger = {
      verifiedCopiesFor: async (_id: number, since: number) => [copy(100), copy(250)].filter((c) => c.at >= since),
      stateDigest: async () => 'd',
    } as any;
    const state = await gateState({ id: 1, start_date: 50, actual_status: 'stopped', intended_status: 'stopped' } as any, ledger, audit, 400);
    expect(state.copies.map((c) => c.at)).toEqual([250]);
  });
});
