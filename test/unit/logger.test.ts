import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { SecretRegistry } from '../../server/secrets.js';

describe('logger', () => {
  it('redacts secret paths and scrubs known secret values from every line', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } });
    const secrets = new SecretRegistry();
    secrets.add('VERY-SECRET-API-KEY-123');
    secrets.add('S3-SECRET-ACCESS-KEY-456');
    const log = createLogger('debug', secrets, sink);
    log.info({ apiKey: 'x1', headers: { authorization: 'Bearer x2' }, s3: { secretAccessKey: 'x3' }, AWS_SECRET_ACCESS_KEY: 'x4', body: { api_key: 'x5' }, token: 'x6' }, 'request');
    log.warn(`failed with VERY-SECRET-API-KEY-123 and S3-SECRET-ACCESS-KEY-456 in the message`);
    const all = lines.join('');
    for (const s of ["x1", "x2", "x3", "x4", "x5", "x6", "VERY-SECRET-API-KEY-123", "S3-SECRET-ACCESS-KEY-456"]) expect(all).not.toContain(s);
    expect(all).toContain('[REDACTED]');
    expect(lines).toHaveLength(2);
  });
});
