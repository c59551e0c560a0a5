/** What one reporting period of a target looked like, as the activator reports it to kpa. */
export interface PeriodStats {
  /** Requests in flight through the activator (held or forwarded), averaged over the period by time. */
  averageConcurrency: number;
  /** Requests that arrived in the period. */
  requestCount: number;
}

/**
 * Time-weighted concurrency and arrivals of one target (Knative's
 * `netstats.RequestStats`): each arrival and departure closes a stretch of
 * constant concurrency, so a report is the exact time average over the period,
 * not a sample. Pure: every call takes `now` in seconds.
 */
export class RequestStats {
  /** Requests in flight right now. */
  private inFlight = 0;
  /** ∫ concurrency dt since the period began, up to `lastChange`. */
  private weighted = 0;
  private lastChange: number;
  private periodStart: number;
  private arrivals = 0;
  /**
   * The first period of a new target is shorter than a second, but kpa
   * takes every report for one second's average: it is averaged over a whole
   * second, as the target had no load before it existed.
   */
  private firstPeriod = true;

  constructor(now: number) {
    this.lastChange = now;
    this.periodStart = now;
  }

  get concurrency(): number {
    return this.inFlight;
  }

  arrive(now: number): void {
    this.advance(now);
    this.inFlight++;
    this.arrivals++;
  }

  depart(now: number): void {
    this.advance(now);
    this.inFlight--;
  }

  /** Closes the period at `now` and starts the next one. */
  report(now: number): PeriodStats {
    this.advance(now);
    const length = this.firstPeriod ? Math.max(now - this.periodStart, 1) : now - this.periodStart;
    this.firstPeriod = false;
    // A zero-length period (two reports at once) has no average to speak of: report the concurrency itself.
    const averageConcurrency = length > 0 ? this.weighted / length : this.inFlight;
    const requestCount = this.arrivals;
    this.weighted = 0;
    this.arrivals = 0;
    this.periodStart = now;
    return { averageConcurrency, requestCount };
  }

  private advance(now: number): void {
    // A clock that steps back (NTP) must not subtract load: such a stretch counts as zero length.
    if (now > this.lastChange) {
      this.weighted += this.inFlight * (now - this.lastChange);
      this.lastChange = now;
    }
  }
}
