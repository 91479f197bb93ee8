import { fenceForModel } from '../server/safety/untrusted-text.js';

/** Wraps remote output so the model reads it as data, not instructions (see server/safety/untrusted-text.ts). */
export function fenceUntrusted(text: string, what: string): string {
  return fenceForModel(text, what);
}

export const OUTPUT_CAP_BYTES = 64 * 1024;

/** The last `cap` bytes as text, with a marker when cut. */
export function tailText(buf: Buffer, totalBytes: number, cap = OUTPUT_CAP_BYTES): { text: string; truncated: boolean } {
  const truncated = totalBytes > buf.length || buf.length > cap;
  const kept = buf.length > cap ? buf.subarray(buf.length - cap) : buf;
  return { text: (truncated ? `…[truncated: ${totalBytes - kept.length} earlier bytes cut]\n` : '') + kept.toString('utf8'), truncated };
}
