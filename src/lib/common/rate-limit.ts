/**
 * Rate-limited reporting: the first bad message is reported at once, the next ones at most
 * once per interval, with the number suppressed in between. 10,000 bad messages give a few
 * log lines, not 10,000.
 */
export class ReportLimiter {
  private last = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns how many were suppressed since the last report when this one may be reported, else null. */
  take(): number | null {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.suppressed++;
      return null;
    }
    this.last = t;
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}
