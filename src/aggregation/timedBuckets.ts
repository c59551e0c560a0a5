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
 * Where a window keeps its numbers: after the ring of bucket sums, in the same
 * Float64Array. As object fields they would be doubles, which V8 keeps each in
 * a box of its own; with 10,000 revisions every box is a cache miss, and a tick
 * read five of them per window. In the array they share the ring's cache lines.
 */
const FIRST_WRITE = 0;
const LAST_WRITE = 1;
const WINDOW_TOTAL = 2;
const WINDOW = 3;
const GRANULARITY = 4;
const STATE_SLOTS = 5;

/** A ring of `count` buckets and its state, as a new window starts: nothing written. */
function newRing(count: number, windowSeconds: number, granularitySeconds: number): Float64Array {
  const ring = new Float64Array(count + STATE_SLOTS);
  ring[count + FIRST_WRITE] = NEVER;
  ring[count + LAST_WRITE] = NEVER;
  ring[count + WINDOW] = windowSeconds;
  ring[count + GRANULARITY] = granularitySeconds;
  return ring;
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
  /**
   * The ring of bucket sums, indexed by bucket number % count, then the state
   * at `count + …`: the bucket number of the first write (reset when a write
   * follows a full window of silence: it tells how much of the ring holds real
   * data); the bucket number of the last write (gaps after it are zeroed
   * lazily); where that bucket sits in the ring (the ring is walked from there
   * one step at a time: a bucket number is past the small-integer range, and
   * V8's `%` on it is a call to fmod); the sum of every bucket, stale ones
   * included until they are cleared; the window and the bucket length in seconds.
   */
  protected ring: Float64Array;
  /** Buckets in the ring: ⌈window / granularity⌉. */
  protected count: number;
  /**
   * Where the last write's bucket sits in the ring. A small integer, so as a
   * field V8 keeps it unboxed; read from the Float64Array it was a double used
   * as an index, and recording a stat cost a third more.
   */
  protected lastIndex = 0;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    checkWindow(windowSeconds, granularitySeconds);
    this.count = Math.ceil(windowSeconds / granularitySeconds);
    this.ring = newRing(this.count, windowSeconds, granularitySeconds);
  }

  isEmpty(now: number): boolean {
    const ring = this.ring;
    const state = this.count;
    const granularity = ring[state + GRANULARITY];
    return (Math.floor(now / granularity) - ring[state + LAST_WRITE]) * granularity > ring[state + WINDOW];
  }

  windowAverage(now: number): number {
    const ring = this.ring;
    const length = this.count;
    const granularity = ring[length + GRANULARITY];
    const lastWrite = ring[length + LAST_WRITE];
    const gap = Math.floor(now / granularity) - lastWrite;
    if (gap <= 0) {
      // +1: first and last write are both inclusive.
      const valid = Math.min(lastWrite - ring[length + FIRST_WRITE] + 1, length);
      return roundTo6Digits(ring[length + WINDOW_TOTAL] / valid);
    }
    if (gap * granularity < ring[length + WINDOW]) {
      // The seconds since the last write are zero: drop the stale buckets they would overwrite.
      let total = ring[length + WINDOW_TOTAL];
      let idx = this.lastIndex;
      for (let k = 0; k < gap; k++) {
        idx = idx + 1 === length ? 0 : idx + 1;
        total -= ring[idx];
      }
      const valid = Math.min(lastWrite - ring[length + FIRST_WRITE] + 1, length - gap);
      return roundTo6Digits(total / valid);
    }
    return 0;
  }

  record(now: number, value: number): void {
    const ring = this.ring;
    const length = this.count;
    const granularity = ring[length + GRANULARITY];
    const bucket = Math.floor(now / granularity);
    const lastWrite = ring[length + LAST_WRITE];
    let idx = this.lastIndex;
    if (lastWrite !== bucket) {
      const window = ring[length + WINDOW];
      if ((bucket - lastWrite) * granularity <= -window) return; // older than a window
      const firstWrite = ring[length + FIRST_WRITE];
      if (firstWrite === NEVER || firstWrite > bucket) ring[length + FIRST_WRITE] = bucket;
      if (bucket > lastWrite) {
        if ((bucket - lastWrite) * granularity >= window) {
          // A whole window without writes: start over.
          ring[length + FIRST_WRITE] = bucket;
          ring.fill(0, 0, length);
          ring[length + WINDOW_TOTAL] = 0;
          idx = ringIndex(bucket, length);
        } else {
          let total = ring[length + WINDOW_TOTAL];
          for (let k = bucket - lastWrite; k > 0; k--) {
            idx = idx + 1 === length ? 0 : idx + 1;
            total -= ring[idx];
            ring[idx] = 0;
          }
          ring[length + WINDOW_TOTAL] = total;
        }
        ring[length + LAST_WRITE] = bucket;
        this.lastIndex = idx;
      } else {
        // A late stat, still inside the window: less than one ring back from the last write.
        idx -= lastWrite - bucket;
        if (idx < 0) idx += length;
      }
    }
    ring[idx] += value;
    ring[length + WINDOW_TOTAL] += value;
  }

  resizeWindow(windowSeconds: number, now: number): void {
    const ring = this.ring;
    const oldCount = this.count;
    if (windowSeconds === ring[oldCount + WINDOW]) return;
    const granularity = ring[oldCount + GRANULARITY];
    checkWindow(windowSeconds, granularity);
    const count = Math.ceil(windowSeconds / granularity);
    const resized = newRing(count, windowSeconds, granularity);
    const lastWrite = ring[oldCount + LAST_WRITE];
    let total = 0;
    if ((Math.floor(now / granularity) - lastWrite) * granularity <= ring[oldCount + WINDOW]) {
      // Copy the newest buckets that fit; a shrinking window drops the oldest.
      let b = lastWrite;
      for (let k = Math.min(count, oldCount); k > 0; k--, b--) {
        // Near t = 0 (simulations, tests) the walk back reaches negative bucket numbers.
        const v = ring[ringIndex(b, oldCount)];
        resized[ringIndex(b, count)] = v;
        total += v;
      }
      // As Knative: the earliest time data may have been written at.
      resized[count + FIRST_WRITE] = lastWrite - (oldCount - 1);
    }
    resized[count + LAST_WRITE] = lastWrite;
    resized[count + WINDOW_TOTAL] = total;
    this.count = count;
    this.ring = resized;
    this.lastIndex = ringIndex(lastWrite, count);
    this.onResize();
  }

  /** For a subclass whose own state depends on the bucket count. */
  protected onResize(): void {}

  /** The bucket number `now` falls in. */
  protected bucketOf(now: number): number {
    return Math.floor(now / this.ring[this.count + GRANULARITY]);
  }

  /** The bucket number of the last write; -Infinity before any. */
  protected get lastWriteBucket(): number {
    return this.ring[this.count + LAST_WRITE];
  }

  /** Where the last write's bucket sits in the ring. */
  protected get lastWriteIndex(): number {
    return this.lastIndex;
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
