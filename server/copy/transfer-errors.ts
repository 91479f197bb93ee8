import { VastMcpError } from '../errors.js';

/** The connection dropped or a stream was cut: a reconnect can resume from what was verified. */
export class TransferInterrupted extends Error {}

/** The copy was cancelled by the client (or its deadline): never retried. */
export class CopyCancelled extends VastMcpError {
  constructor(what: string) {
    super(
      `${what} was cancelled. What was received is kept as a partial file (never as a finished one); the next copy checks it against the instance before resuming.`,
      'copy_cancelled',
    );
  }
}

/** A local write failed: full disk, quota, read-only file system. Never retried. */
export function localWriteError(path: string, e: NodeJS.ErrnoException): VastMcpError {
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') {
    return new VastMcpError(
      `The local disk is full while writing ${path}: nothing was recorded and the partial file was removed. Free some space (or choose another local_path) and copy again.`,
      'copy_disk_full',
    );
  }
  return new VastMcpError(`Writing ${path} failed (${e.code ?? e.message}): nothing was recorded and the partial file was removed.`, 'copy_failed');
}
