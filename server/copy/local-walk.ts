import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { VastMcpError } from '../errors.js';
import { insideRoot } from './local-paths.js';

export interface LocalFile {
  path: string;
  /** `/`-separated path below the walked root ("" for a single file). */
  rel: string;
  size: number;
  mode: number;
  mtime: number;
}

export interface LocalWalk {
  kind: 'file' | 'dir';
  files: LocalFile[];
  dirs: string[];
  /** Links and special files: never followed, never sent; named in the result. */
  skipped: { path: string; reason: string }[];
}

/**
 * What to upload from below the copy root, never following a link: the source itself must resolve
 * to itself (no link anywhere on its path), and links met inside are skipped and named, so a link to
 * the user's key file can never carry that file to an instance.
 */
export function walkLocal(copyRoot: string, localPath: string): LocalWalk {
  const src = insideRoot(copyRoot, localPath, 'local_path');
  let real: string;
  try {
    real = realpathSync.native(src);
  } catch {
    throw new VastMcpError(`local_path ${JSON.stringify(localPath)} does not exist under ${copyRoot}.`, 'copy_source_missing');
  }
  const expected = join(realpathSync.native(resolve(copyRoot)), relative(resolve(copyRoot), src));
  if (real !== expected.replace(/\/$/, '')) {
    throw new VastMcpError(
      `local_path ${JSON.stringify(localPath)} goes through a symbolic link; uploads never follow links (they could lead outside the copy root).`,
      'copy_unsafe_path',
    );
  }
  const st = lstatSync(src);
  if (st.isFile())
    return { kind: 'file', files: [{ path: src, rel: '', size: st.size, mode: st.mode & 0o777, mtime: st.mtimeMs / 1000 }], dirs: [], skipped: [] };
  if (!st.isDirectory()) throw new VastMcpError(`local_path ${JSON.stringify(localPath)} is not a regular file or directory.`, 'invalid_input');
  const out: LocalWalk = { kind: 'dir', files: [], dirs: [], skipped: [] };
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = relative(src, p).split(sep).join('/');
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out.skipped.push({ path: p, reason: 'symbolic link (never followed)' });
      else if (s.isDirectory()) {
        out.dirs.push(rel);
        visit(p);
      } else if (s.isFile()) out.files.push({ path: p, rel, size: s.size, mode: s.mode & 0o777, mtime: s.mtimeMs / 1000 });
      else out.skipped.push({ path: p, reason: 'special file' });
    }
  };
  visit(src);
  return out;
}
