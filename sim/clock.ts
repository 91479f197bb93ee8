/**
 * Simulated wall clock in epoch seconds. It runs at `timeScale` × real time and can be advanced
 * by tests through the admin surface, so a 90-second image pull need not take 90 real seconds.
 */
export class SimClock {
  private readonly realStart = Date.now();
  private readonly simStart: number;
  private offsetSeconds = 0;

  constructor(
    private timeScale = 1,
    startEpochSeconds = Date.now() / 1000,
  ) {
    this.simStart = startEpochSeconds;
  }

  now(): number {
    return this.simStart + ((Date.now() - this.realStart) / 1000) * this.timeScale + this.offsetSeconds;
  }

  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new Error('advance takes a non-negative number of seconds');
    this.offsetSeconds += seconds;
  }

  get scale(): number {
    return this.timeScale;
  }
}
