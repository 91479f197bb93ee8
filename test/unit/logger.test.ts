import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { SecretRegistry } from '../../server/secrets.js';

describe('logger', () => {
  it('redacts secret paths and scrubs known secret values from every line', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    });
    const secrets = new SecretRegistry();
    secrets.add('VERY-SECRET-API-KEY-123');
    secrets.add('S3-SECRET-ACCESS-KEY-456');
    const log = createLogger('debug', secrets, sink);
    log.info(
      {
        apiKey: 'x1',
        headers: { authorization: 'Bearer x2' },
        s3: { secretAccessKey: 'x3' },
        AWS_SECRET_ACCESS_KEY: 'x4',
        body: { api_key: 'x5' },
        token: 'x6',
      },
      'request',
    );
    log.warn(`failed with VERY-SECRET-API-KEY-123 and S3-SECRET-ACCESS-KEY-456 in the message`);
    const all = lines.join('');
    for (const s of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'VERY-SECRET-API-KEY-123', 'S3-SECRET-ACCESS-KEY-456']) expect(all).not.toContain(s);
    expect(all).toContain('[REDACTED]');
    expect(lines).toHaveLength(2);
  });

  it('scrubs encoded keys and secret-looking values (URL credentials, tokens, env assignments) from log lines', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    });
    const secrets = new SecretRegistry();
    secrets.add('VERY-SECRET-API-KEY-123');
    const log = createLogger('debug', secrets, sink);
    log.info(
      {
        url: 'https://user:hunter2pw@s3.example/bucket',
        onstart: 'export HF_TOKEN=hf_abcdefghijklmnopqrstu',
        cmd: 'DB_PASSWORD=s3cr3tvalue',
        quoted: 'MY_SECRET="two words"',
        next: 'kept',
      },
      `auth ${Buffer.from('x:VERY-SECRET-API-KEY-123').toString('base64')}`,
    );
    const all = lines.join('');
    for (const s of ['hunter2pw', 'hf_abcdefghijklmnopqrstu', Buffer.from('VERY-SECRET-API-KEY-123').toString('base64').slice(4, 20)])
      expect(all).not.toContain(s);
    const parsed = JSON.parse(all);
    expect(parsed.url).toBe('https://user:[REDACTED]@s3.example/bucket');
    expect(parsed.cmd).toBe('DB_PASSWORD=[REDACTED]');
    expect(parsed.next).toBe('kept');
    expect(parsed.quoted).toBe('MY_SECRET=[REDACTED]');
  });
});
