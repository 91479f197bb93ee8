import { VastMcpError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import { INSTANCE_READ_SPACING_MS, openInstanceSsh, type Access } from '../ssh/access.js';
import { SshError, type SshSession } from '../ssh/ssh-session.js';
import { CopyCancelled, TransferInterrupted } from './transfer-errors.js';

export const MAX_ATTEMPTS = 4;

/** An SSH connection that is re-opened after a drop, so a transfer can resume where it stopped. */
export class CopyConnection {
  private access: Access | null = null;
  private connecting: Promise<Access> | null = null;
  endpoint: 'direct' | 'proxy' = 'direct';
  readonly warnings = new Set<string>();

  constructor(
    private readonly deps: ServerDeps,
    private readonly instanceId: number,
    private readonly preferProxy: boolean | undefined,
    readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', () => this.drop(), { once: true });
  }

  async session(): Promise<SshSession> {
    if (this.signal?.aborted) throw new CopyCancelled('The copy');
    if (!this.access) {
      // Parallel streams share one connection: only one of them opens it.
      this.connecting ??= openInstanceSsh(this.deps, this.instanceId, {
        attachKey: true,
        readinessMs: 60_000,
        preferProxy: this.preferProxy,
        recentReadMs: INSTANCE_READ_SPACING_MS,
      }).finally(() => (this.connecting = null));
      const access = await this.connecting;
      if (this.access !== access) {
        this.access = access;
        for (const w of access.warnings) this.warnings.add(w);
        this.endpoint = access.endpoint.kind;
      }
      // Cancelled while connecting: do not keep a connection nobody will close.
      if (this.signal?.aborted) {
        this.drop();
        throw new CopyCancelled('The copy');
      }
    }
    return this.access!.session;
  }

  drop(): void {
    this.access?.session.end();
    this.access = null;
  }
}

/**
 * Runs `step` with reconnects on interruption; the step resumes from what is already verified.
 * Cancellation is final: never retried, and reported as such.
 */
export async function withRetries<T>(
  conn: CopyConnection,
  what: string,
  step: (s: SshSession, attempt: number) => Promise<T>,
): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await step(await conn.session(), attempt), attempts: attempt };
    } catch (e) {
      conn.drop();
      if (conn.signal?.aborted || e instanceof CopyCancelled) throw e instanceof CopyCancelled ? e : new CopyCancelled(what);
      const retryable = e instanceof TransferInterrupted || e instanceof SshError;
      if (!retryable || attempt >= MAX_ATTEMPTS) {
        if (retryable)
          throw new VastMcpError(
            `${what} failed after ${attempt} attempts: ${(e as Error).message}. Nothing unverified was recorded; what was verified is kept and the next copy resumes from it.`,
            'copy_interrupted',
          );
        throw e;
      }
    }
  }
}
