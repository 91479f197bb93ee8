import { readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { SecretRegistry } from '../secrets.js';
import { appendJsonLine, forEachJsonLine, type OnRepair } from './jsonl-file.js';

/** One record may hold this much; larger argument values are cut (the record says so). */
export const MAX_AUDIT_RECORD_BYTES = 16 * 1024;
/** The live file is rotated past this size; rotated files are kept and still read. */
export const AUDIT_ROTATE_BYTES = 64 * 1024 * 1024;
/** A value kept whole inside a cut record. */
const KEEP_VALUE_BYTES = 512;

export interface AuditEntry {
  at: string;
  pid: number;
  tool: string;
  action: string;
  args: unknown;
  result: 'ok' | 'refused' | 'declined' | 'error' | 'pending';
  detail?: unknown;
  instance_id?: number;
  /** Who made the call (server/identity/caller.ts): null for the server itself (supervisor) or records written before identities. */
  actor?: AuditActor | null;
}

export interface AuditActor {
  user: string | null;
  team: string | null;
  authenticated: boolean;
  /** The configured Vast account the call used (null: the server's own key). */
  account: string | null;
}

const SECRET_KEY = /(key|token|secret|password|passwd|credential|authorization|auth|cookie|session)/i;

/** Secret-looking pieces of any string: credentials in URLs, well-known token formats, assignments. */
const SECRET_VALUE_PATTERNS: [RegExp, string][] = [
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, '$1[REDACTED]@'],
  [/\b(hf_|gh[pousr]_|github_pat_|glpat-|sk-|sk_live_|xox[abpr]-)[A-Za-z0-9_-]{16,}/g, '$1[REDACTED]'],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, '[REDACTED]'],
  [/\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{12,}/gi, '$1 [REDACTED]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  [/\b([A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?))=(\\?"[^"\\]*\\?"|'[^']*'|[^\s"'\\,;&|]+)/g, '$1=[REDACTED]'],
];

/** A value that looks like a token or password (long, no spaces, letters and digits mixed). */
const TOKEN_LIKE = /^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_\-+/=.~]{20,}$/;

export function redactSecretLooking(text: string): string {
  let out = text;
  for (const [re, replacement] of SECRET_VALUE_PATTERNS) out = out.replace(re, replacement);
  return out;
}

/**
 * Redacts values under secret-looking names, secret-looking values (any string), token-like values
 * of environment variables, and any known secret value (in any encoding), recursively.
 */
export function redactForAudit(value: unknown, secrets: SecretRegistry, depth = 0, inEnv = false): unknown {
  if (depth > 8) return '[…]';
  if (typeof value === 'string') {
    if (inEnv && TOKEN_LIKE.test(value)) return '[REDACTED]';
    return redactSecretLooking(secrets.scrub(value));
  }
  if (Array.isArray(value)) return value.map((v) => redactForAudit(v, secrets, depth + 1, inEnv));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // confirmation tokens are ours and single-use; the rest of these names may carry secrets.
      const secretName = SECRET_KEY.test(k) && !/^(confirmation_token|approval_token|ssh_key_attached|attach_key)$/.test(k);
      out[k] = secretName ? '[REDACTED]' : redactForAudit(v, secrets, depth + 1, inEnv || /^(env|environment|extra_env)$/i.test(k));
    }
    return out;
  }
  return value;
}

/** Keeps small fields (ids, labels, epochs, results) whole and replaces big values by their size. */
function shrink(value: unknown, depth = 0): unknown {
  const size = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (size <= KEEP_VALUE_BYTES) return value;
  if (depth < 2 && value && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = shrink(v, depth + 1);
    return out;
  }
  return typeof value === 'string' ? `${value.slice(0, 200)}…[cut: ${size} bytes]` : `[cut: ${size} bytes]`;
}

/** A record within MAX_AUDIT_RECORD_BYTES: big argument/detail values cut, the cut marked. */
export function capAuditRecord(entry: AuditEntry): AuditEntry {
  if (Buffer.byteLength(JSON.stringify(entry)) <= MAX_AUDIT_RECORD_BYTES) return entry;
  const cut: AuditEntry = { ...entry, args: shrink(entry.args), detail: shrink(entry.detail) };
  if (Buffer.byteLength(JSON.stringify(cut)) <= MAX_AUDIT_RECORD_BYTES) return { ...cut, truncated: true } as AuditEntry;
  return { ...entry, args: '[cut: too large]', detail: '[cut: too large]', truncated: true } as AuditEntry;
}

/**
 * Where the records of every replica are read together (server/store/pg-audit.ts). Without one, this
 * state directory's file is the whole log (one server).
 */
export interface AuditMirror {
  /** A record was appended to the file: copy it soon. Never throws. */
  notify(): void;
  /** Resolves once every record appended so far is in the shared store; rejects when it could not be put there. */
  flush(): Promise<void>;
  /** Every replica's records, oldest first, after flush(); rejects when the store cannot be read. */
  entries(): Promise<AuditEntry[]>;
  /** What the last entries() call returned (null before the first), for readers that cannot wait. */
  lastRead(): AuditEntry[] | null;
}

/**
 * The audit log could not be read: who rented an instance, its stops and starts, whose spend is whose are
 * unknown. Callers fail closed: nothing is unlocked, allowed or attributed on a guess.
 */
export class AuditUnreadable extends VastMcpError {
  constructor(
    readonly reason: unknown,
    unknown = 'what it records',
    nothing = 'Nothing was done',
  ) {
    super(
      `Refused: the shared audit log cannot be read right now (the shared store, VAST_MCP_STORE_URL, or the state directory is out of reach), so ${unknown} is unknown. ` +
        `${nothing}; ask the operator to check the store or the state directory, then try again.`,
      'audit_unavailable',
    );
    this.name = 'AuditUnreadable';
  }
}

/** The audit files of a state directory: rotated ones, oldest first, then the live one. */
export function auditFiles(stateDir: string): string[] {
  let rotated: string[] = [];
  try {
    rotated = readdirSync(stateDir).filter((f) => /^audit\.\d+-\d+\.jsonl$/.test(f));
  } catch {
    /* no state dir yet */
  }
  const stamp = (f: string) => Number(/^audit\.(\d+)-/.exec(f)![1]);
  rotated.sort((a, b) => stamp(a) - stamp(b) || a.localeCompare(b));
  return [...rotated.map((f) => join(stateDir, f)), join(stateDir, 'audit.jsonl')];
}

/**
 * Who/what/when/arguments/result of every mutating call, JSONL, mode 0600. With a mirror (replicas
 * sharing a store) the file is the durable outbox: record() stays a synchronous local write, and the
 * mirror copies it to the store the replicas read together (entriesShared).
 */
export class AuditLog {
  readonly path: string;

  constructor(
    private readonly stateDir: string,
    private readonly secrets: SecretRegistry,
    private readonly onRepair?: OnRepair,
    private readonly rotateBytes = AUDIT_ROTATE_BYTES,
    private readonly mirror?: AuditMirror,
  ) {
    this.path = join(stateDir, 'audit.jsonl');
  }

  record(entry: Omit<AuditEntry, 'at' | 'pid'>): void {
    const full: AuditEntry = {
      at: new Date().toISOString(),
      pid: process.pid,
      ...entry,
      actor: entry.actor ?? null,
      args: redactForAudit(entry.args, this.secrets),
      detail: redactForAudit(entry.detail, this.secrets),
    };
    this.rotateIfLarge();
    appendJsonLine(this.path, capAuditRecord(full), this.onRepair);
    this.mirror?.notify();
  }

  /** Renames the live file aside (atomic; of two processes one wins, the other finds it gone). */
  private rotateIfLarge(): void {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return;
    }
    if (size < this.rotateBytes) return;
    try {
      renameSync(this.path, join(this.stateDir, `audit.${Date.now()}-${process.pid}.jsonl`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Rotated files, oldest first, then the live one. */
  files(): string[] {
    return auditFiles(this.stateDir);
  }

  /** This state directory's records, across rotations; read in chunks, so the log's size never breaks a read. */
  entries(): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const f of this.files()) forEachJsonLine<AuditEntry>(f, (r) => out.push(r), this.onRepair);
    return out;
  }

  /**
   * Every replica's records (this file's alone without a shared store): what decides ownership, spend
   * and the destroy gate. Rejects with AuditUnreadable, never answers with a partial or local-only view.
   */
  async entriesShared(): Promise<AuditEntry[]> {
    try {
      return this.mirror ? await this.mirror.entries() : this.entries();
    } catch (e) {
      throw e instanceof AuditUnreadable ? e : new AuditUnreadable(e);
    }
  }

  /**
   * This file's records and those of the last shared read, for the few synchronous readers (where a job's
   * inputs are staged): may lag behind other replicas, never behind this one.
   */
  entriesKnown(): AuditEntry[] {
    const shared = this.mirror?.lastRead() ?? [];
    return shared.length ? [...shared, ...this.entries()] : this.entries();
  }

  /**
   * Waits (at most `maxMs`: a store that does not answer must not hold a call's answer) until this server's
   * records are in the shared store, for read-your-writes on other replicas. Never rejects.
   */
  async flushShared(maxMs = 5000): Promise<boolean> {
    if (!this.mirror) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), maxMs);
      timer.unref();
    });
    const done = this.mirror.flush().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([done, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
