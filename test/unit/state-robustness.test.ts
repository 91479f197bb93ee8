import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, MAX_AUDIT_RECORD_BYTES } from '../../server/state/audit-log.js';
import { appendJsonLine, MAX_LINE_BYTES, readJsonLines, type JsonlRepairNotice } from '../../server/state/jsonl-file.js';
import { accountDigest, CopyLedger } from '../../server/state/ledger.js';
import { sandboxStateDir, secureStateDir } from '../../server/state/state-dir.js';
import { SecretRegistry } from '../../server/secrets.js';

const dir = () => mkdtempSync(join(tmpdir(), 'vast-mcp-state-'));
const SHA = 'a'.repeat(64);

describe('torn JSONL tails', () => {
  it('a half-written last line does not swallow the next record, and the repair is reported', () => {
    const file = join(dir(), 'ledger.jsonl');
    appendJsonLine(file, { n: 1 });
    appendFileSync(file, '{"n": 2, "half'); // crash mid-write
    const notices: JsonlRepairNotice[] = [];
    appendJsonLine(file, { n: 3 }, (n) => notices.push(n));
    appendJsonLine(file, { n: 4 });
    const skipped: JsonlRepairNotice[] = [];
    expect(readJsonLines(file, (n) => skipped.push(n))).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
    expect(notices.map((n) => n.kind)).toEqual(['torn_tail']);
    expect(skipped.map((n) => n.kind)).toEqual(['skipped_line']);
  });

  it('a verified copy recorded after a torn line still counts for destroy', async () => {
    const d = dir();
    const ledger = new CopyLedger(d);
    appendFileSync(join(d, 'ledger.jsonl'), '{"type":"verified_copy","instance_id":7,');
    await ledger.recordVerifiedCopy({
      instance_id: 7,
      remote_path: '/workspace/a',
      destination: '/x',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: 100,
    });
    expect(await ledger.verifiedCopiesFor(7)).toHaveLength(1);
  });

  it('skips a line too long to be ours without holding it, and keeps reading', () => {
    const file = join(dir(), 'a.jsonl');
    appendJsonLine(file, { n: 1 });
    appendFileSync(file, `${'x'.repeat(MAX_LINE_BYTES + 10)}\n`);
    appendJsonLine(file, { n: 2 });
    expect(readJsonLines(file)).toEqual([{ n: 1 }, { n: 2 }]);
  });
});

describe('owner-only state files', () => {
  it('tightens files and folders an older version left readable, keeps .pub readable', () => {
    const d = dir();
    mkdirSync(join(d, 'ssh'));
    writeFileSync(join(d, 'ledger.jsonl'), '');
    writeFileSync(join(d, 'audit.jsonl'), '');
    writeFileSync(join(d, 'ssh', 'id_ed25519'), 'k');
    writeFileSync(join(d, 'ssh', 'id_ed25519.pub'), 'p');
    chmodSync(d, 0o755);
    chmodSync(join(d, 'ssh'), 0o755);
    for (const f of ['ledger.jsonl', 'audit.jsonl', 'ssh/id_ed25519', 'ssh/id_ed25519.pub']) chmodSync(join(d, f), 0o644);
    const notices: JsonlRepairNotice[] = [];
    secureStateDir(d, (n) => notices.push(n));
    const mode = (p: string) => statSync(join(d, p)).mode & 0o777;
    expect([mode('.'), mode('ssh'), mode('ledger.jsonl'), mode('audit.jsonl'), mode('ssh/id_ed25519'), mode('ssh/id_ed25519.pub')]).toEqual([
      0o700, 0o700, 0o600, 0o600, 0o600, 0o644,
    ]);
    expect(notices.length).toBe(5);
  });

  it('an append to an old world-readable file makes it owner-only', () => {
    const file = join(dir(), 'audit.jsonl');
    writeFileSync(file, '{"old":1}\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    appendJsonLine(file, { n: 1 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('audit log size', () => {
  it('caps one record, keeping the small fields that matter', () => {
    const d = dir();
    const audit = new AuditLog(d, new SecretRegistry());
    audit.record({
      tool: 'create',
      action: 'propose',
      args: { label: 'me-abc', huge: 'z'.repeat(1_000_000), list: Array(10_000).fill('q') },
      result: 'pending',
      instance_id: 5,
      detail: { epoch: 123, blob: 'y'.repeat(50_000) },
    });
    const line = readFileSync(join(d, 'audit.jsonl'), 'utf8').trim();
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_AUDIT_RECORD_BYTES);
    const [e] = audit.entries() as any[];
    expect(e).toMatchObject({
      tool: 'create',
      action: 'propose',
      instance_id: 5,
      truncated: true,
      args: { label: 'me-abc' },
      detail: { epoch: 123 },
    });
    expect(e.args.huge).toMatch(/cut: \d+ bytes/);
  });

  it('rotates past its size and still reads every record, in order, across files', () => {
    const d = dir();
    const audit = new AuditLog(d, new SecretRegistry(), undefined, 10_000);
    for (let i = 0; i < 60; i++)
      audit.record({ tool: 't', action: 'start', args: { i, pad: 'p'.repeat(400) }, result: 'ok', instance_id: 1, detail: { epoch: i } });
    const files = readdirSync(d).filter((f) => f.startsWith('audit'));
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) expect(statSync(join(d, f)).size).toBeLessThan(10_000 + 1000);
    expect(audit.entries().map((e) => (e.args as { i: number }).i)).toEqual([...Array(60).keys()]);
  });
});

describe('ledger scope', () => {
  it('a copy recorded for one platform/account never counts for another with the same instance id', async () => {
    const d = dir();
    const sim = new CopyLedger(d, undefined, { platform: 'http://127.0.0.1:1234', account: accountDigest('sandbox-key') });
    const real = new CopyLedger(d, undefined, { platform: 'https://console.vast.ai', account: accountDigest('real-key') });
    await sim.recordVerifiedCopy({
      instance_id: 42,
      remote_path: '/workspace',
      destination: '/x',
      size: 1,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: 1,
    });
    expect(await sim.verifiedCopiesFor(42)).toHaveLength(1);
    expect(await real.verifiedCopiesFor(42)).toHaveLength(0);
    expect(await real.stateDigest(42)).not.toBe(await sim.stateDigest(42));
    expect(readFileSync(join(d, 'ledger.jsonl'), 'utf8')).not.toContain('sandbox-key');
  });

  it('sandbox runs get their own state directory under the real one', () => {
    expect(sandboxStateDir('/s', 'run1')).toBe('/s/sandbox/run1');
    expect(sandboxStateDir('/s', 'run1')).not.toBe(sandboxStateDir('/s', 'run2'));
  });
});
