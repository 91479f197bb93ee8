import { describe, expect, it } from 'vitest';
import { SecretRegistry } from '../../server/secrets.js';

const KEY = 'TESTKEY-c0ffee-5ecret-0123456789abcdef';
const reg = () => {
  const r = new SecretRegistry();
  r.add(KEY);
  return r;
};

describe('secret scrubbing', () => {
  it('redacts the key itself, keeping the text around it', () => {
    expect(reg().scrub(`a ${KEY} b`)).toBe('a [REDACTED] b');
  });

  it.each([
    ['hex', Buffer.from(KEY).toString('hex')],
    ['HEX', Buffer.from(KEY).toString('hex').toUpperCase()],
    ['base64', Buffer.from(KEY).toString('base64')],
    ['base64 of user:key (shifted alignment)', Buffer.from(`user:${KEY}`).toString('base64')],
    ['base64 of xy+key', Buffer.from(`xy${KEY}`).toString('base64')],
    ['base64url', Buffer.from(`?${KEY}`).toString('base64url')],
    ['URL-encoded', encodeURIComponent(`k=${KEY}&x=1`)],
  ])('redacts the key in %s', (_what, encoded) => {
    const r = reg();
    const out = r.scrub(`Authorization: Basic ${encoded} end`);
    expect(out).toContain('[REDACTED]');
    expect(r.contains(out)).toBe(false);
    expect(out).toMatch(/^Authorization: Basic /);
    expect(out).toMatch(/ end$/);
  });

  it('redacts cut fragments: a tail at the start of a truncated output, a prefix at the end of a capped one', () => {
    const r = reg();
    expect(r.scrub(`…[truncated]\n${KEY.slice(17)} rest`)).toBe('…[truncated]\n[REDACTED] rest');
    expect(r.scrub(`head ${KEY.slice(0, 16)}`)).toBe('head [REDACTED]');
    expect(r.contains(KEY.slice(5, 25))).toBe(true);
  });

  it('redacts URL-encoded keys with special characters', () => {
    const r = new SecretRegistry();
    const secret = 'p@ss/w0rd+s3cr3t=long';
    r.add(secret);
    expect(r.scrub(`https://u:${encodeURIComponent(secret)}@host/x`)).toBe('https://u:[REDACTED]@host/x');
  });

  it('leaves unrelated text alone and finds the field that carries a key', () => {
    const r = reg();
    const text = 'TESTKEY is a word; c0ffee too; 0123456789 digits';
    expect(r.scrub(text)).toBe(text);
    expect(r.findIn({ image: 'pytorch/pytorch', env: { A: 'x', B: Buffer.from(KEY).toString('base64') } })).toBe('env');
    expect(r.findIn({ image: 'pytorch/pytorch', onstart: 'echo hi' })).toBeNull();
  });
});

describe('audit redaction of secret-looking values', () => {
  it('redacts credentials in URLs, token formats, assignments and token-like env values; keeps the rest', async () => {
    const { redactForAudit } = await import('../../server/state/audit-log.js');
    const out = redactForAudit(
      {
        env: {
          DATABASE_URL: 'postgres://me:pw-12345@db.example/x',
          OPAQUE: 'Zx9aB7cD5eF3gH1iJ0kLmN',
          PLAIN: 'hello world',
          WORKERS: '4',
          HF: 'hf_abcdefghijklmnopqrstuvwx',
        },
        onstart: 'export HF_TOKEN=hf_abcdefghijklmnopqrstuvwx; curl -H "Authorization: Bearer abcdefghijklmnop123" https://u:secretpw@host/x',
        image: 'pytorch/pytorch:2.1',
        command: `echo ${Buffer.from(KEY).toString('base64')}`,
      },
      reg(),
    ) as any;
    expect(out.env).toEqual({
      DATABASE_URL: 'postgres://me:[REDACTED]@db.example/x',
      OPAQUE: '[REDACTED]',
      PLAIN: 'hello world',
      WORKERS: '4',
      HF: 'hf_[REDACTED]',
    });
    expect(out.onstart).not.toMatch(/abcdefghijklmnop|secretpw/);
    expect(out.onstart).toContain('HF_TOKEN=[REDACTED]');
    expect(out.image).toBe('pytorch/pytorch:2.1');
    expect(out.command).toMatch(/^echo \[REDACTED\].{0,4}$/); // at most the last partial base64 group (≤ 2 bytes) remains
  });
});
