import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VastMcpError } from '../errors.js';
import { LOCK_SUFFIX } from './local-tree.js';

const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One copy per destination at a time, across processes: a lock file beside the destination holding
 * the owner's pid. A lock whose owner is gone is taken over. Released only after `fn` settles, i.e.
 * after every stream of the copy has stopped writing, so a retry never writes beside a live copy.
 */
export async function withDestinationLock<T>(dest: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dirname(dest), `.${basename(dest)}${LOCK_SUFFIX}`);
  const busy = (who: string) =>
    new VastMcpError(
      `Another copy to ${dest} is still running (${who}). Wait for it to finish, or cancel it, then copy again; nothing was changed by this call.`,
      'copy_busy',
    );
  if (held.has(lock)) throw busy('in this server');
  for (let tries = 0; ; tries++) {
    try {
      const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, at: new Date().toISOString() }));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0)
        throw e instanceof VastMcpError
          ? e
          : new VastMcpError(`Could not lock ${dest} for copying (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, 'copy_failed');
      let pid = 0;
      try {
        pid = Number((JSON.parse(readFileSync(lock, 'utf8')) as { pid?: unknown }).pid) || 0;
      } catch {
        /* unreadable: a crash between create and write; treat as stale */
      }
      if (pid && pid !== process.pid && alive(pid)) throw busy(`process ${pid}`);
      unlinkSync(lock);
    }
  }
  held.add(lock);
  try {
    return await fn();
  } finally {
    held.delete(lock);
    try {
      unlinkSync(lock);
    } catch {
      /* gone */
    }
  }
}
