import { pino, type Logger } from 'pino';
import type { SecretRegistry } from './secrets.js';
import { redactSecretLooking } from './state/audit-log.js';

export type { Logger };

/** Paths that may carry a secret in anything we log. */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
  '*.*.api_key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'instance_api_key',
  '*.instance_api_key',
  'secretAccessKey',
  '*.secretAccessKey',
  'AWS_SECRET_ACCESS_KEY',
  '*.AWS_SECRET_ACCESS_KEY',
  'password',
  '*.password',
  'token',
  '*.token',
];

/**
 * pino on stderr (stdout belongs to the MCP protocol), with path redaction plus a final scrub of
 * known secret values (in any encoding) and secret-looking values from every serialized line.
 */
export function createLogger(level: string, secrets: SecretRegistry, destination: NodeJS.WritableStream = process.stderr): Logger {
  const stream = {
    write(line: string): void {
      destination.write(redactSecretLooking(secrets.scrub(line)));
    },
  };
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { name: 'vast-mcp' } }, stream);
}
