/**
 * Deterministic fault rules for the simulator: answer with an error, delay, or commit the request
 * and then drop the connection without answering (the "lost response" that makes retries dangerous).
 */
export type FaultKind = 'error' | 'drop_response' | 'delay';

export interface FaultRule {
  method: string;
  /** Matched against the normalized path, e.g. "^/api/v0/asks/\\d+$". */
  path: string;
  kind: FaultKind;
  status?: number;
  body?: string;
  delayMs?: number;
  /** How many matching requests it applies to; then it is spent. */
  count: number;
}

export class FaultPlan {
  private rules: (FaultRule & { re: RegExp })[] = [];
  readonly fired: { method: string; path: string; kind: FaultKind }[] = [];

  add(rule: FaultRule): void {
    if (!['error', 'drop_response', 'delay'].includes(rule.kind)) throw new Error(`unknown fault kind ${rule.kind}`);
    this.rules.push({ ...rule, re: new RegExp(rule.path) });
  }

  clear(): void {
    this.rules = [];
  }

  take(method: string, path: string): FaultRule | null {
    const rule = this.rules.find((r) => r.count > 0 && r.method === method && r.re.test(path));
    if (!rule) return null;
    rule.count--;
    this.fired.push({ method, path, kind: rule.kind });
    return rule;
  }
}
