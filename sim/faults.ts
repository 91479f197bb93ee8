import { createRng, type Rng } from './rng.js';

/**
 * Fault rules for the simulator, deterministic from a seed: answer with an error, delay, or commit the
 * request and then drop the connection (the "lost response" that makes retries dangerous), or drop the
 * connection at once and commit the request `delayMs` later (a late commit, after the client gave up). A rule
 * fires on its next `count` matches, or on each match with `probability`.
 */
export type FaultKind = 'error' | 'drop_response' | 'delay' | 'late_commit';

export interface FaultRule {
  method: string;
  /** Matched against the normalized path, e.g. "^/api/v0/asks/\\d+$". */
  path: string;
  kind: FaultKind;
  status?: number;
  body?: string;
  /**
   * Sent as Retry-After with an error: the daily search quota answers 429 `search_quota_exceeded`
   * with one (DOC search_offers.yaml, 429); other 429s carry none (rate-limits-and-errors.mdx:47).
   */
  retryAfterSeconds?: number;
  delayMs?: number;
  /** How many matching requests it applies to; then it is spent. */
  count?: number;
  /** Instead of a count: the chance (0–1) that each matching request is hit. */
  probability?: number;
}

export class FaultPlan {
  private rules: (FaultRule & { re: RegExp })[] = [];
  readonly fired: { method: string; path: string; kind: FaultKind; status?: number }[] = [];
  private readonly rng: Rng;

  constructor(seed: string | number = 'faults') {
    this.rng = createRng(`faults:${seed}`);
  }

  add(rule: FaultRule): void {
    if (!['error', 'drop_response', 'delay', 'late_commit'].includes(rule.kind)) throw new Error(`unknown fault kind ${rule.kind}`);
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) throw new Error('probability must be between 0 and 1');
    this.rules.push({ ...rule, count: rule.probability === undefined ? (rule.count ?? 1) : rule.count, re: new RegExp(rule.path) });
  }

  clear(): void {
    this.rules = [];
  }

  take(method: string, path: string): FaultRule | null {
    for (const rule of this.rules) {
      if ((rule.method !== '*' && rule.method !== method) || !rule.re.test(path)) continue;
      if (rule.probability !== undefined) {
        if (this.rng.next() >= rule.probability) continue;
      } else if ((rule.count ?? 0) <= 0) {
        continue;
      } else {
        rule.count = (rule.count ?? 1) - 1;
      }
      this.fired.push({ method, path, kind: rule.kind, status: rule.status });
      return rule;
    }
    return null;
  }
}

/**
 * `--faults 429:0.05,503:0.02,drop_create:0.01,latency:0.05` → probabilistic rules on every API route.
 * A 429 answers with the platform's plain-text body and no Retry-After.
 */
export function parseFaultSpec(spec: string): FaultRule[] {
  const rules: FaultRule[] = [];
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, p] = part.split(':');
    const probability = Number(p);
    if (!name || !Number.isFinite(probability) || probability < 0 || probability > 1)
      throw new Error(`bad fault "${part}": use name:probability, e.g. 429:0.05`);
    if (/^\d{3}$/.test(name)) {
      rules.push({
        method: '*',
        path: '^/api/',
        kind: 'error',
        status: Number(name),
        body: name === '429' ? 'API requests too frequent' : `${name} error`,
        probability,
      });
    } else if (name === 'drop_create') {
      rules.push({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'drop_response', probability });
    } else if (name === 'late_create') {
      rules.push({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 1500, probability });
    } else if (name === 'latency') {
      rules.push({ method: '*', path: '^/api/', kind: 'delay', delayMs: 400, probability });
    } else {
      throw new Error(`unknown fault "${name}": use an HTTP status (429, 500, 502, 503, 504), drop_create, late_create or latency`);
    }
  }
  return rules;
}
