import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** sha256 of a local file as it is on disk now. */
export async function localFileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * One digest for a whole tree: sha256 over every file's path, size and sha256, sorted by path.
 * Computed once from the instance's checksums and once from ours: equal only when every file is.
 */
export function treeDigest(files: { rel: string; size: number; sha256: string }[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)))
    h.update(`${JSON.stringify(f.rel)} ${f.size} ${f.sha256}\n`);
  return h.digest('hex');
}
