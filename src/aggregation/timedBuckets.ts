import type { WindowAverager } from './windowAverager.js';

/** Sentinel for "never written" (Go's zero time.Time, which is before any real time). */
const NEVER = -Infinity;
const PRECISION = 1e6;

/** Go's math.Round to 6 digits, halves away from zero. */
function roundTo6Digits(x: number): number {
  const scaled = x * PRECISION;
  return (scaled < 0 ? -Math.round(-scaled) : Math.round(scaled)) / PRECISION;
}

/**
 * Time buckets with a linear window average (Knative's TimedFloat64Buckets).
 *
 * Buckets form a ring indexed by bucket number modulo the bucket count. The
 * average is over a partial window right after the first write or after a gap
 * longer than the window, missing seconds inside the window count as zero, and
 * a full window of silence resets everything.
 */
export class TimedBuckets implements WindowAverager {
  /** Ring buffer of bucket sums, indexed by bucket number % length. */
  protected buckets: Float64Array;
  /** Seconds per bucket (1 for the collector). */
  protected readonly granularity: number;
  /** The window length in seconds; may differ from buckets × granularity only by the ceil. */
  protected window: number;
  /**
   * Bucket number of the first write, reset when a write follows a full window
   * of silence: it tells how much of the ring holds real data.
   */
  protected firstWrite = NEVER;
  /** Bucket number of the last write: gaps after it are zeroed lazily. */
  protected lastWrite = NEVER;
  /**
   * Where lastWrite's bucket sits in the ring. The ring is walked from here
   * one step at a time: a bucket number is past the small-integer range, and
   * V8's `%` on it is a call to fmod, the most expensive operation of a tick.
   */
  protected lastIndex = 0;
  /** Sum of every bucket in the ring, stale ones included until they are cleared. */
  protected windowTotal = 0;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    checkWindow(windowSeconds, granularitySeconds);
    this.granularity = granularitySeconds;
    this.window = windowSeconds;
    this.buckets = new Float64Array(Math.ceil(windowSeconds / granularitySeconds));
  }

  protected bucketOf(now: number): number {
    return Math.floor(now / this.granularity);
  }

  isEmpty(now: number): boolean {
    return (this.bucketOf(now) - this.lastWrite) * this.granularity > this.window;
  }

  windowAverage(now: number): number {
    const nowBucket = this.bucketOf(now);
    const gap = nowBucket - this.lastWrite;
    const length = this.buckets.length;
    if (gap <= 0) {
      // +1: first and last write are both inclusive.
      const valid = Math.min(this.lastWrite - this.firstWrite + 1, length);
      return roundTo6Digits(this.windowTotal / valid);
    }
    if (gap * this.granularity < this.window) {
      // The seconds since the last write are zero: drop the stale buckets they would overwrite.
      let total = this.windowTotal;
      let idx = this.lastIndex;
      for (let k = 0; k < gap; k++) {
        idx = idx + 1 === length ? 0 : idx + 1;
        total -= this.buckets[idx];
      }
      const valid = Math.min(this.lastWrite - this.firstWrite + 1, length - gap);
      return roundTo6Digits(total / valid);
    }
    return 0;
  }

  record(now: number, value: number): void {
    const bucket = this.bucketOf(now);
    const length = this.buckets.length;
    let idx = this.lastIndex;
    if (this.lastWrite !== bucket) {
      if ((bucket - this.lastWrite) * this.granularity <= -this.window) return; // older than a window
      if (this.firstWrite === NEVER || this.firstWrite > bucket) this.firstWrite = bucket;
      if (bucket > this.lastWrite) {
        if ((bucket - this.lastWrite) * this.granularity >= this.window) {
          // A whole window without writes: start over.
          this.firstWrite = bucket;
          this.buckets.fill(0);
          this.windowTotal = 0;
          idx = ringIndex(bucket, length);
        } else {
          for (let k = bucket - this.lastWrite; k > 0; k--) {
            idx = idx + 1 === length ? 0 : idx + 1;
            this.windowTotal -= this.buckets[idx];
            this.buckets[idx] = 0;
          }
        }
        this.lastWrite = bucket;
        this.lastIndex = idx;
      } else {
        // A late stat, still inside the window: less than one ring back from the last write.
        idx -= this.lastWrite - bucket;
        if (idx < 0) idx += length;
      }
    }
    this.buckets[idx] += value;
    this.windowTotal += value;
  }

  resizeWindow(windowSeconds: number, now: number): void {
    if (windowSeconds === this.window) return;
    checkWindow(windowSeconds, this.granularity);
    const count = Math.ceil(windowSeconds / this.granularity);
    const resized = new Float64Array(count);
    let total = 0;
    if ((this.bucketOf(now) - this.lastWrite) * this.granularity <= this.window) {
      // Copy the newest buckets that fit; a shrinking window drops the oldest.
      const oldCount = this.buckets.length;
      let b = this.lastWrite;
      for (let k = Math.min(count, oldCount); k > 0; k--, b--) {
        // Near t = 0 (simulations, tests) the walk back reaches negative bucket numbers.
        const v = this.buckets[ringIndex(b, oldCount)];
        resized[ringIndex(b, count)] = v;
        total += v;
      }
      // As Knative: the earliest time data may have been written at.
      this.firstWrite = this.lastWrite - (oldCount - 1);
    } else {
      this.firstWrite = NEVER;
    }
    this.window = windowSeconds;
    this.buckets = resized;
    this.windowTotal = total;
    this.lastIndex = ringIndex(this.lastWrite, count);
  }
}

/** A bucket number's place in a ring of `length` (JS `%` keeps the sign); 0 for "never written". */
function ringIndex(bucket: number, length: number): number {
  if (bucket === NEVER) return 0;
  const r = bucket % length;
  return r < 0 ? r + length : r;
}

/** A window that is not a finite number of whole buckets would make the bucket loops run forever. */
function checkWindow(windowSeconds: number, granularitySeconds: number): void {
  if (!Number.isFinite(windowSeconds) || !(windowSeconds >= granularitySeconds) || !(granularitySeconds > 0)) {
    throw new RangeError(`a window of ${windowSeconds} s in buckets of ${granularitySeconds} s`);
  }
}
