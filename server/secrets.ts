/**
 * Registry of secret values (API key, S3 secret) that must never leave the process. Every string
 * we emit (tool results, errors, logs) can be scrubbed against it as a last line of defence.
 */
export class SecretRegistry {
  private readonly values = new Set<string>();

  add(value: string | null | undefined): void {
    if (value && value.length >= 8) this.values.add(value);
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    return out;
  }

  contains(text: string): boolean {
    for (const v of this.values) if (text.includes(v)) return true;
    return false;
  }
}
