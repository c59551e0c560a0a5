/** Revision-seconds a revision's timeliness window holds: the last 100 s of scrapes. */
export const TIMELINESS_WINDOW = 100;

/**
 * A revision's recent scrape timeliness, as the API shows it. Lateness is
 * from the revision's scheduled time in its second to the moment its stat was
 * recorded; a missed second is one whose stat did not land in that second's
 * bucket (skipped while the last scrape still ran, failed, or later than the
 * second's end), which the windows read as zero load.
 */
export interface ScrapeTimeliness {
  /** The latest stat's lateness; null before the first. */
  lastLatenessSeconds: number | null;
  /** Nearest-rank p99 of the window's lateness (of stats that arrived); null when none did. */
  latenessP99Seconds: number | null;
  /** Revision-seconds in the window without a stat in their own second. */
  missedSeconds: number;
  /** Revision-seconds the window holds (up to TIMELINESS_WINDOW). */
  windowSeconds: number;
}

const microseconds = (seconds: number) => Math.round(seconds * 1e6) / 1e6;

/** The last TIMELINESS_WINDOW revision-seconds of one revision, in fixed memory (about 500 bytes). */
export class TimelinessWindow {
  /** Seconds late, NaN where no stat arrived. */
  private readonly lateness = new Float32Array(TIMELINESS_WINDOW);
  private readonly missed = new Uint8Array(TIMELINESS_WINDOW);
  private next = 0;
  private count = 0;
  private last: number | null = null;

  /** One revision-second: the stat's lateness (null: no stat) and whether its own second went without. */
  record(latenessSeconds: number | null, missed: boolean): void {
    this.lateness[this.next] = latenessSeconds ?? NaN;
    this.missed[this.next] = missed ? 1 : 0;
    this.next = (this.next + 1) % TIMELINESS_WINDOW;
    this.count = Math.min(this.count + 1, TIMELINESS_WINDOW);
    if (latenessSeconds !== null) this.last = latenessSeconds;
  }

  summary(): ScrapeTimeliness {
    let missedSeconds = 0;
    let arrived = 0;
    for (let i = 0; i < this.count; i++) {
      missedSeconds += this.missed[i];
      if (!Number.isNaN(this.lateness[i])) arrived++;
    }
    return {
      lastLatenessSeconds: this.last === null ? null : microseconds(this.last),
      // Rounded to the microsecond: the window keeps float32s, whose last digits mean nothing.
      latenessP99Seconds: arrived === 0 ? null : microseconds(this.kthLargest(arrived - Math.ceil(0.99 * arrived) + 1)),
      missedSeconds,
      windowSeconds: this.count,
    };
  }

  /** The k-th largest lateness that arrived (k ≤ 2 for a p99 of up to 100 values: no sort). */
  private kthLargest(k: number): number {
    const top: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const v = this.lateness[i];
      if (Number.isNaN(v)) continue;
      if (top.length === k && v <= top[k - 1]) continue;
      let j = Math.min(top.length, k - 1);
      top[j] = v;
      while (j > 0 && top[j - 1] < top[j]) {
        [top[j - 1], top[j]] = [top[j], top[j - 1]];
        j--;
      }
    }
    return top[k - 1];
  }
}
