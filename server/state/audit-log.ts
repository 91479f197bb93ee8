import { join } from 'node:path';
import type { SecretRegistry } from '../secrets.js';
import { appendJsonLine, readJsonLines } from './jsonl-file.js';

export interface AuditEntry {
  at: string;
  pid: number;
  tool: string;
  action: string;
  args: unknown;
  result: 'ok' | 'refused' | 'declined' | 'error' | 'pending';
  detail?: unknown;
  instance_id?: number;
}

const SECRET_KEY = /(key|token|secret|password|passwd|credential|authorization)/i;

/** Redacts values under secret-looking names and any known secret value, recursively. */
export function redactForAudit(value: unknown, secrets: SecretRegistry, depth = 0): unknown {
  if (depth > 8) return '[…]';
  if (typeof value === 'string') return secrets.scrub(value);
  if (Array.isArray(value)) return value.map((v) => redactForAudit(v, secrets, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // confirmation tokens are ours and single-use; the rest of these names may carry secrets.
      out[k] = SECRET_KEY.test(k) && !/^(confirmation_token|approval_token)$/.test(k) ? '[REDACTED]' : redactForAudit(v, secrets, depth + 1);
    }
    return out;
  }
  return value;
}

/** Who/what/when/arguments/result of every mutating call, JSONL, mode 0600. */
export class AuditLog {
  readonly path: string;

  constructor(
    stateDir: string,
    private readonly secrets: SecretRegistry,
  ) {
    this.path = join(stateDir, 'audit.jsonl');
  }

  record(entry: Omit<AuditEntry, 'at' | 'pid'>): void {
    const full: AuditEntry = { at: new Date().toISOString(), pid: process.pid, ...entry, args: redactForAudit(entry.args, this.secrets), detail: redactForAudit(entry.detail, this.secrets) };
    appendJsonLine(this.path, full);
  }

  entries(): AuditEntry[] {
    return readJsonLines<AuditEntry>(this.path);
  }
}
