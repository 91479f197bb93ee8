import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/**
 * The jobs supervisor (`vast-mcp jobd`) as a child process the campaign can SIGKILL at any instant and
 * start again. A new one exits at once while the dead one's lock has not expired; it is simply started
 * again on a later tick. "Up" means it logged that it holds the lock.
 */
export class JobdProcess {
  private child: ChildProcess | null = null;
  private downUntil = 0;
  /** Real ms when the current supervisor took the lock, or null while none holds it. */
  upSince: number | null = null;
  kills = 0;
  starts = 0;
  /** Longest real ms without a supervisor holding the lock (from a kill to the next "started"). */
  longestGapMs = 0;
  private gapFrom: number | null = Date.now();
  /** Real ms intervals with no supervisor holding the lock ([from, to], to null while it lasts). */
  readonly down: [number, number | null][] = [[Date.now(), null]];
  stderr = '';
  /** Slow supervisor passes the supervisors logged: [real ms when seen, pass duration ms]. */
  readonly slowPasses: [number, number][] = [];
  /** Peak resident memory (kB) of any supervisor process, from /proc (Linux). */
  peakRssKb = 0;

  constructor(
    private readonly main: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    /** Where every supervisor's log goes (appended), to replay a failure. */
    private readonly logPath?: string,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Starts a supervisor unless one runs or a kill asked for a pause. */
  ensure(now = Date.now()): void {
    if (this.child || now < this.downUntil) return;
    const child = spawn(process.execPath, [this.main, 'jobd', ...this.args], { stdio: ['ignore', 'ignore', 'pipe'], env: this.env });
    this.child = child;
    this.starts++;
    let buf = '';
    child.stderr!.on('data', (c) => {
      const s = String(c);
      buf += s;
      if (this.stderr.length < 2_000_000) this.stderr += s;
      if (this.logPath) appendFileSync(this.logPath, s);
      if (this.upSince === null && buf.includes('jobs supervisor started')) {
        this.upSince = Date.now();
        if (this.gapFrom !== null) this.longestGapMs = Math.max(this.longestGapMs, this.upSince - this.gapFrom);
        this.gapFrom = null;
        const last = this.down[this.down.length - 1];
        if (last && last[1] === null) last[1] = this.upSince;
      }
      for (const m of s.matchAll(/"pass_ms":(\d+)/g)) this.slowPasses.push([Date.now(), Number(m[1])]);
      if (buf.length > 10_000) buf = buf.slice(-1000);
    });
    child.once('exit', () => {
      if (this.child === child) {
        this.child = null;
        if (this.upSince !== null) this.wentDown();
      }
    });
  }

  /** SIGKILL, no warning: the supervisor may be in the middle of anything. It stays down for `pauseMs`. */
  kill(pauseMs: number): void {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    this.kills++;
    this.downUntil = Date.now() + pauseMs;
    if (this.upSince !== null) this.wentDown();
    this.child = null;
  }

  private wentDown(): void {
    this.gapFrom = Date.now();
    this.upSince = null;
    this.down.push([this.gapFrom, null]);
  }

  /** Real ms without a supervisor between `from` and `to`. */
  downtimeBetween(from: number, to: number): number {
    let ms = 0;
    for (const [a, b] of this.down) ms += Math.max(0, Math.min(b ?? to, to) - Math.max(a, from));
    return ms;
  }

  /** Longest supervisor pass (real ms) that was under way at some time between `from` and `to`, or 0. */
  longestPassBetween(from: number, to: number): number {
    let ms = 0;
    for (const [seen, d] of this.slowPasses) if (seen >= from && seen - d <= to) ms = Math.max(ms, d);
    return ms;
  }

  /** Reads the supervisor's peak RSS (VmHWM) while it lives. */
  sampleRss(readStatus: (pid: number) => string | null): void {
    const pid = this.pid;
    if (pid === null) return;
    const m = /VmHWM:\s+(\d+) kB/.exec(readStatus(pid) ?? '');
    if (m) this.peakRssKb = Math.max(this.peakRssKb, Number(m[1]));
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
