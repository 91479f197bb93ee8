import { VastMcpError } from '../errors.js';
import { InputError } from '../errors.js';

// Control characters and backslashes: some stores and most tools treat them as separators or worse.
const UNSAFE = /[\u0000-\u001f\u007f\\]/;

function segmentsOk(path: string): boolean {
  return path.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !UNSAFE.test(s));
}

/** A `/`-separated relative path that stays where it is put: plain segments only (no `.`, `..`, empty, backslash, control character). */
export function isPlainRelative(rel: string): boolean {
  return rel !== '' && segmentsOk(rel);
}

/** The bucket prefix from the user's s3_uri: normalised segments, no `.`/`..`. */
export function checkPrefix(prefix: string): string {
  if (prefix && !segmentsOk(prefix))
    throw new InputError(
      `The prefix in s3_uri (${JSON.stringify(prefix)}) must be plain path segments: no ".", "..", empty segments, backslashes or control characters.`,
    );
  return prefix;
}

/**
 * The object key for a file name that came from the instance, confined under the prefix: every
 * segment is plain (no `.`, `..`, empty, backslash, control character) and the key fits S3's 1,024 bytes.
 * Returns null for a name that cannot be mapped safely.
 */
export function objectKey(prefix: string, rel: string): string | null {
  if (!rel || !segmentsOk(rel)) return null;
  const key = prefix ? `${prefix}/${rel}` : rel;
  return Buffer.byteLength(key) <= 1024 ? key : null;
}

export function refuseUnmappable(names: string[]): never {
  const shown = names
    .slice(0, 5)
    .map((n) => JSON.stringify(n.slice(0, 120)))
    .join(', ');
  throw new VastMcpError(
    `${names.length} file name(s) from the instance cannot be stored safely under the bucket prefix (${shown}${names.length > 5 ? ', …' : ''}): names with "..", ".", empty segments, backslashes or control characters are refused. Nothing was uploaded; rename them on the instance or copy a sub-directory.`,
    'copy_unsafe_path',
  );
}
