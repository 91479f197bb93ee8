/**
 * Minimal escaping for text the server did not write (instance file names, labels, onstart) shown
 * inside a dialog the human reads as the server's own: control characters (newlines included) and
 * bidi overrides become visible escapes, so such text cannot forge a line of the dialog; long text is cut.
 * (Helper D's server/safety/untrusted-text.ts is meant to replace this at merge.)
 */
export function escapeForDialog(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return cleaned.length > max ? `${cleaned.slice(0, max)}…(+${cleaned.length - max} chars)` : cleaned;
}

/** Quoted, escaped: the form every instance-controlled name takes in a dialog. */
export function quoteForDialog(text: string, max = 200): string {
  return `"${escapeForDialog(text, max).replace(/"/g, '\\"')}"`;
}
