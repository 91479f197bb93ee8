import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';

/** Resolves a local path inside the copy root; anything that would escape it is refused. */
export function insideRoot(root: string, path: string, what: string): string {
  const abs = resolve(root, path);
  const rel = relative(resolve(root), abs);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new InputError(
      `${what} ${JSON.stringify(path)} is outside the copy root ${root}. Use a path inside it (set VAST_MCP_COPY_ROOT to change the root).`,
    );
  }
  return abs;
}

/** Instance paths must be absolute and under /workspace or /root, without `..`. */
export function checkRemotePath(path: string): string {
  if (!path.startsWith('/')) throw new InputError(`remote_path ${JSON.stringify(path)} must be absolute, e.g. /workspace/results.`);
  if (path.split('/').includes('..')) throw new InputError(`remote_path ${JSON.stringify(path)} must not contain "..".`);
  if (!/^\/(workspace|root)(\/|$)/.test(path))
    throw new InputError(`remote_path ${JSON.stringify(path)} must be under /workspace or /root, where the instance keeps your files.`);
  if (/[\0\n]/.test(path)) throw new InputError('remote_path must not contain NUL or newline characters.');
  return path;
}
