import { TransferInterrupted } from './transfer-errors.js';

/**
 * The instance's checksums as they arrive, for whoever waits on one: the receiving side commits a
 * file only once its own hash can be compared with the instance's. When the checksum stream ends or
 * fails, every waiter learns it (a file the instance never hashed is never verified).
 */
export class HashBoard {
  private readonly known = new Map<string, string>();
  private readonly waiters = new Map<string, { ok: (sha: string) => void; fail: (e: Error) => void }[]>();
  private closed: Error | null = null;

  set(rel: string, sha: string): void {
    if (this.known.has(rel) && this.known.get(rel) !== sha) {
      return this.close(new TransferInterrupted(`the instance sent two different checksums for ${JSON.stringify(rel)}`));
    }
    this.known.set(rel, sha);
    for (const w of this.waiters.get(rel) ?? []) w.ok(sha);
    this.waiters.delete(rel);
  }

  get(rel: string): string | undefined {
    return this.known.get(rel);
  }

  has(rel: string): boolean {
    return this.known.has(rel);
  }

  wait(rel: string): Promise<string> {
    const k = this.known.get(rel);
    if (k) return Promise.resolve(k);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((ok, fail) => this.waiters.set(rel, [...(this.waiters.get(rel) ?? []), { ok, fail }]));
  }

  /** The checksum stream is over (`e`: how it failed); those still waiting will not get one. */
  close(e: Error = new TransferInterrupted('the instance sent no checksum for a file')): void {
    if (this.closed) return;
    this.closed = e;
    for (const list of this.waiters.values()) for (const w of list) w.fail(e);
    this.waiters.clear();
  }

  /** Follows a hashing run: closes the board when it ends, however it ends. */
  follow(run: Promise<unknown>): void {
    run.then(
      () => this.close(),
      (e: Error) => this.close(e),
    );
  }
}
