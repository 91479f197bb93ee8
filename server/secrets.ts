/** A secret and the forms it may take in output: itself, hex, base64 at each alignment, URL-encoded. */
interface Variant {
  text: string;
  /** Window length and step for fragment search (a fragment ≥ window + step − 1 long is always found). */
  window: number;
  step: number;
}

const MIN_SECRET = 8;

function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    // Preceded by `pad` other bytes, the secret's base64 changes; its middle (whole groups of its own
    // bytes only) is the same whatever those bytes were.
    const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const core = b64.slice(pad ? 4 : 0, Math.floor((pad + bytes.length) / 3) * 4);
    if (core.length >= 8) out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

function variantsOf(secret: string): Variant[] {
  const bytes = Buffer.from(secret, 'utf8');
  const raw = Math.min(secret.length, 10);
  const out: Variant[] = [{ text: secret, window: raw, step: Math.max(1, Math.floor(raw / 2)) }];
  const encoded = new Set([bytes.toString('hex'), bytes.toString('hex').toUpperCase(), encodeURIComponent(secret), ...base64Cores(bytes)]);
  encoded.delete(secret);
  for (const text of encoded) {
    const window = Math.min(text.length, 16);
    out.push({ text, window, step: Math.max(1, Math.floor(window / 2)) });
  }
  return out;
}

/** Spans of `text` that are a fragment (≥ the window) of `v.text`, found with native indexOf. */
function fragmentSpans(text: string, v: Variant): [number, number][] {
  const spans: [number, number][] = [];
  for (let off = 0; off + v.window <= v.text.length; off += v.step) {
    const probe = v.text.slice(off, off + v.window);
    for (let at = text.indexOf(probe); at !== -1; at = text.indexOf(probe, at + 1)) {
      let a = at;
      let b = off;
      while (a > 0 && b > 0 && text[a - 1] === v.text[b - 1]) a--, b--;
      let end = at + v.window;
      let e = off + v.window;
      while (end < text.length && e < v.text.length && text[end] === v.text[e]) end++, e++;
      spans.push([a, end]);
    }
    // The last window, so the secret's tail is covered whatever the step.
    if (off + v.step + v.window > v.text.length && off + v.window < v.text.length) off = v.text.length - v.window - v.step;
  }
  return spans;
}

/**
 * Registry of secret values (API key, S3 secret) that must never leave the process. Every string
 * we emit (tool results, errors, logs) can be scrubbed against it as a last line of defence: the
 * secret itself, its hex, base64 (any alignment, standard or URL-safe) and URL-encoded forms, and
 * any long enough fragment of them (a tail cut at 64 KiB, a prefix cut by a cap).
 */
export class SecretRegistry {
  private readonly values = new Set<string>();
  private variants: Variant[] = [];

  add(value: string | null | undefined): void {
    if (!value || value.length < MIN_SECRET || this.values.has(value)) return;
    this.values.add(value);
    this.variants = [...this.values].flatMap(variantsOf);
  }

  private spans(text: string): [number, number][] {
    const all = this.variants.flatMap((v) => fragmentSpans(text, v));
    all.sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const s of all) {
      const last = merged[merged.length - 1];
      if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
      else merged.push([s[0], s[1]]);
    }
    return merged;
  }

  scrub(text: string): string {
    if (!this.variants.length || !text) return text;
    const spans = this.spans(text);
    if (!spans.length) return text;
    let out = '';
    let at = 0;
    for (const [a, b] of spans) {
      out += `${text.slice(at, a)}[REDACTED]`;
      at = b;
    }
    return out + text.slice(at);
  }

  contains(text: string): boolean {
    return this.variants.length > 0 && this.spans(text).length > 0;
  }

  /** The name of the first field whose value (strings anywhere inside) carries a secret, or null. */
  findIn(fields: Record<string, unknown>): string | null {
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined || value === null) continue;
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (this.contains(text)) return name;
    }
    return null;
  }
}
