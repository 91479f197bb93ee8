import type { ClientChannel } from 'ssh2';
import type { SshSession } from '../ssh/ssh-session.js';
import { TransferInterrupted } from './transfer-errors.js';

export interface StreamedResult {
  code: number | null;
  stderr: string;
  records: number;
}

/**
 * Runs a command whose stdout is NUL-terminated records and hands each record over as it arrives,
 * with no size cap (a 300,000-file listing must not lose its head). Only a bounded tail of stderr
 * is kept. A channel that closes without an exit status was cut: that is an interruption.
 */
export async function streamRecords(
  session: SshSession,
  command: string,
  onRecord: (rec: Buffer) => void,
  stdin?: Buffer,
  signal?: AbortSignal,
): Promise<StreamedResult> {
  const ch: ClientChannel = await session.channel(command);
  return new Promise((resolve, reject) => {
    let pending: Buffer[] = [];
    let records = 0;
    let stderr = '';
    let code: number | null = null;
    let failed: Error | null = null;
    const abort = () => {
      failed = new TransferInterrupted('cancelled');
      ch.close();
    };
    signal?.addEventListener('abort', abort, { once: true });
    ch.on('exit', (c: number | null) => (code = c));
    ch.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString('utf8');
    });
    ch.on('data', (d: Buffer) => {
      if (failed) return;
      let start = 0;
      for (let i = d.indexOf(0); i !== -1; i = d.indexOf(0, start)) {
        const part = d.subarray(start, i);
        const rec = pending.length ? Buffer.concat([...pending, part]) : part;
        pending = [];
        start = i + 1;
        records++;
        try {
          onRecord(rec);
        } catch (e) {
          failed = e as Error;
          ch.close();
          return;
        }
      }
      if (start < d.length) pending.push(d.subarray(start));
    });
    ch.on('error', (e: Error) => (failed ??= new TransferInterrupted(e.message)));
    ch.on('close', () => {
      signal?.removeEventListener('abort', abort);
      if (failed) return reject(failed);
      if (pending.length) return reject(new TransferInterrupted('a record was cut short'));
      if (code === null) return reject(new TransferInterrupted('the command ended without an exit status (connection cut)'));
      resolve({ code, stderr: stderr.slice(0, 4096), records });
    });
    if (stdin) ch.end(stdin);
    else ch.end();
  });
}
