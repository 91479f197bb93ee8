import type { z } from 'zod';
import { VastApiError } from '../errors.js';

// Small pieces of VastHttp (http.ts): request encoding, error details, abortable pauses.

/** The contract id a non-success body may still carry (see VastApiError.newContract). */
export function contractIn(json: unknown): number | null {
  const v = (json as { new_contract?: unknown } | null | undefined)?.new_contract;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null;
}

export function abortError(endpoint: string): VastApiError {
  return new VastApiError(
    `Vast API request ${endpoint} was abandoned at the caller's deadline. It may or may not have taken effect.`,
    'timeout',
    null,
    endpoint,
    true,
  );
}

/** A pause that ends early (rejecting) when the signal aborts. */
export async function pause(sleep: (ms: number) => Promise<void>, ms: number, signal: AbortSignal | undefined, endpoint: string): Promise<void> {
  if (!signal) return sleep(ms);
  if (signal.aborted) throw abortError(endpoint);
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(endpoint));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export function encodeQuery(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    // The API JSON-decodes every parameter: non-strings go JSON-encoded, as the CLI sends them.
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(text)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export function describeZodIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unknown shape error';
  const at = issue.path.length ? issue.path.join('.') : '(top level)';
  return `field ${at}: ${issue.message}`;
}
