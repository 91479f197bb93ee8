import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AuditLog, redactForAudit } from '../../server/state/audit-log.js';
import { appendJsonLine, readJsonLines } from '../../server/state/jsonl-file.js';
import { CopyLedger } from '../../server/state/ledger.js';
import { SecretRegistry } from '../../server/secrets.js';
import { ConfirmationStore, canonical } from '../../server/safety/confirmations.js';
import { assertNoSecrets, packOnstart } from '../../server/safety/onstart.js';
import { labelBase, uniqueLabel } from '../../server/vast/labels.js';
import { gunzipSync } from 'node:zlib';

const dir = () => mkdtempSync(join(tmpdir(), 'vast-mcp-state-'));
const SHA = 'b'.repeat(64);

describe('append-only JSONL', () => {
  it('keeps every record whole when two processes append at once', async () => {
    const file = join(dir(), 'ledger.jsonl');
    const module = fileURLToPath(new URL('../../dist/server/state/jsonl-file.js', import.meta.url));
    const writer = (who: string) =>
      new Promise<number | null>((resolve) => {
        const code = `import { appendJsonLine } from ${JSON.stringify(module)}; for (let i = 0; i < 300; i++) appendJsonLine(${JSON.stringify(file)}, { who: ${JSON.stringify(who)}, i, pad: 'x'.repeat(2000) });`;
        spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' }).on('exit', resolve);
      });
    expect(await Promise.all([writer('a'), writer('b')])).toEqual([0, 0]);
    // A reader can see another process's record half-copied (the size grows page by page), so an
    // append may close a "torn" tail that was not: that adds a blank line, never a split record.
    const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
    expect(lines).toHaveLength(600);
    const records = lines.map((l) => JSON.parse(l) as { who: string; i: number });
    for (const who of ['a', 'b']) expect(records.filter((r) => r.who === who).map((r) => r.i)).toEqual([...Array(300).keys()]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('skips a torn last line instead of failing', () => {
    const file = join(dir(), 'x.jsonl');
    appendJsonLine(file, { ok: 1 });
    appendFileSync(file, '{"torn": ');
    expect(readJsonLines(file)).toEqual([{ ok: 1 }]);
  });
});

describe('copy ledger', () => {
  it('records only copies whose checksums match, and filters by instance and time', async () => {
    const ledger = new CopyLedger(dir());
    await expect(
      ledger.recordVerifiedCopy({
        instance_id: 1,
        remote_path: '/w',
        destination: '/d',
        size: 1,
        sha256_remote: SHA,
        sha256_local: 'c'.repeat(64),
        at: 10,
      }),
    ).rejects.toThrow(/do not match/);
    await expect(
      ledger.recordVerifiedCopy({
        instance_id: 1,
        remote_path: '/w',
        destination: '/d',
        size: 1,
        sha256_remote: 'nothex',
        sha256_local: 'nothex',
        at: 10,
      }),
    ).rejects.toThrow();
    await ledger.recordVerifiedCopy({ instance_id: 1, remote_path: '/w', destination: '/d', size: 1, sha256_remote: SHA, sha256_local: SHA, at: 10 });
    await ledger.recordVerifiedCopy({ instance_id: 2, remote_path: '/w', destination: '/d', size: 1, sha256_remote: SHA, sha256_local: SHA, at: 20 });
    expect(await ledger.verifiedCopiesFor(1)).toHaveLength(1);
    expect(await ledger.verifiedCopiesFor(1, 11)).toHaveLength(0);
    const before = await ledger.stateDigest(2);
    await ledger.recordVerifiedCopy({
      instance_id: 2,
      remote_path: '/v',
      destination: '/d2',
      size: 2,
      sha256_remote: SHA,
      sha256_local: SHA,
      at: 30,
    });
    expect(await ledger.stateDigest(2)).not.toBe(before);
  });
});

describe('audit log redaction', () => {
  it('redacts secret-named fields and known secret values, keeps the rest', () => {
    const secrets = new SecretRegistry();
    secrets.add('SUPERSECRETKEY-123456');
    const out = redactForAudit(
      { env: { HF_TOKEN: 'hf_x', TZ: 'UTC' }, note: 'key SUPERSECRETKEY-123456 here', nested: [{ password: 'p' }], confirmation_token: 'create-abc' },
      secrets,
    );
    expect(out).toEqual({
      env: { HF_TOKEN: '[REDACTED]', TZ: 'UTC' },
      note: 'key [REDACTED] here',
      nested: [{ password: '[REDACTED]' }],
      confirmation_token: 'create-abc',
    });
    const log = new AuditLog(dir(), secrets);
    log.record({ tool: 't', action: 'a', args: { api_key: 'SUPERSECRETKEY-123456' }, result: 'ok' });
    expect(readFileSync(log.path, 'utf8')).not.toContain('SUPERSECRETKEY');
  });
});

describe('confirmation tokens', () => {
  it('bind to canonical arguments regardless of key order', async () => {
    expect(canonical({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    const store = new ConfirmationStore(60, () => 0);
    const t = await store.issue('create', { a: 1, b: 2 }, { plan: 'p' });
    expect(await store.consume(t.token, 'create', { b: 2, a: 1 })).toEqual({ ok: true, payload: { plan: 'p' } });
  });

  it('refuse the wrong action kind and are spent by the refusal', async () => {
    const store = new ConfirmationStore(60, () => 0);
    const t = await store.issue('destroy', { id: 1 });
    expect(await store.consume(t.token, 'create', { id: 1 })).toEqual({ ok: false, reason: 'wrong_kind' });
    expect(await store.consume(t.token, 'destroy', { id: 1 })).toEqual({ ok: false, reason: 'unknown' });
  });

  it('are claimed for a lease: a call that never commits (it died) gives the token up to the next call after the lease only', async () => {
    let now = 0;
    const store = new ConfirmationStore(600, () => now, undefined, 60);
    const t = await store.issue('create', { id: 2 }, 'quote');
    const first = await store.claim(t.token, 'create', { id: 2 });
    expect(first.ok).toBe(true);
    now = 59;
    expect(await store.claim(t.token, 'create', { id: 2 })).toEqual({ ok: false, reason: 'in_use', retryInSeconds: 1 });
    now = 60;
    const second = await store.claim(t.token, 'create', { id: 2 });
    expect(second.ok).toBe(true);
    expect(first.ok && (await first.commit())).toBe(false);
    expect(second.ok && (await second.commit())).toBe(true);
    expect(await store.consume(t.token, 'create', { id: 2 })).toEqual({ ok: false, reason: 'unknown' });
  });
});

describe('onstart', () => {
  it.each([
    'OPENAI_API_KEY=sk-abc',
    'export WANDB_TOKEN=abc123',
    'DB_PASSWORD=hunter2',
    'id AKIAIOSFODNN7EXAMPLE',
    '-----BEGIN OPENSSH PRIVATE KEY-----',
  ])('refuses %s', (script) => {
    expect(() => assertNoSecrets(script, () => false)).toThrow(/secret/);
  });

  it.each([
    'python train.py --epochs 3',
    'MAX_TOKENS_LEN=5 python x.py',
    'huggingface-cli login --token "$HF_TOKEN"',
    'export HF_TOKEN=$HF_TOKEN',
    'monkey=banana',
  ])('accepts %s', (script) => {
    expect(() => assertNoSecrets(script, () => false)).not.toThrow();
  });

  it('sends scripts over 16 KB gzip+base64 and the packed form unpacks to the script', () => {
    const script = Array.from({ length: 2000 }, (_, i) => `echo step ${i}`).join('\n');
    const packed = packOnstart(script);
    expect(packed.packed).toBe(true);
    expect(Buffer.byteLength(packed.onstart)).toBeLessThanOrEqual(16 * 1024);
    const b64 = /echo '([^']+)'/.exec(packed.onstart)![1]!;
    expect(gunzipSync(Buffer.from(b64, 'base64')).toString()).toBe(script);
    expect(packOnstart('echo hi')).toEqual({ onstart: 'echo hi', packed: false });
  });
});

describe('labels', () => {
  it('uses username, else email local part, else vast-user, and stays within 256', () => {
    expect(labelBase({ username: 'ada', email: 'x@y' })).toBe('ada');
    expect(labelBase({ username: '  ', email: 'grace.hopper@navy.mil' })).toBe('grace.hopper');
    expect(labelBase({ username: null, email: null })).toBe('vast-user');
    expect(labelBase(null)).toBe('vast-user');
    expect(labelBase({ username: 'a b/c', email: null })).toBe('a-b-c');
    expect(uniqueLabel('x'.repeat(300), 'abc123')).toHaveLength(256);
    expect(uniqueLabel('ada', 'abc123')).toBe('ada-abc123');
  });
});

describe('ssh key generation', () => {
  it('only hands out key pairs that ssh2 can parse back (its generator sometimes does not)', async () => {
    const { generateEd25519 } = await import('../../server/ssh/keygen.js');
    const ssh2 = (await import('ssh2')).default;
    for (let i = 0; i < 1500; i++) {
      const pair = generateEd25519();
      expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error);
    }
  });
});
