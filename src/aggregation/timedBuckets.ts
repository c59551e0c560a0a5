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
 * Where a window keeps its numbers: first in its array, before the ring of
 * bucket sums. As object fields they would be doubles, which V8 keeps each in
 * a box of its own; with 10,000 revisions every box is a cache miss, and a tick
 * read five of them per window. First in the array they share a cache line
 * with the array's header, which every read checks the length in.
 */
const FIRST_WRITE = 0;
const LAST_WRITE = 1;
const WINDOW_TOTAL = 2;
const WINDOW = 3;
const GRANULARITY = 4;
/** Where the ring of buckets starts in a window's array (a subclass reads the buckets too). */
export const RING = 5;

/**
 * Zeroed arrays of unboxed doubles per length, that a new window copies. A
 * plain array, not a Float64Array: its numbers sit on V8's heap right after
 * the array object, while a typed array reaches them through a pointer off the
 * heap, one more cache miss per window and tick. Built from a double and grown
 * by push, so that V8 keeps it packed (no holes to check); copied by slice, so
 * that the copy is exactly as long and allocated in one piece with its header.
 */
const zeroed = new Map<number, number[]>();

/** A ring of `count` buckets and its state, as a new window starts: nothing written. */
function newRing(count: number, windowSeconds: number, granularitySeconds: number): number[] {
  let template = zeroed.get(count);
  if (template === undefined) {
    template = [0.5];
    for (let i = 1; i < RING + count; i++) template.push(0);
    template[0] = 0;
    zeroed.set(count, template);
  }
  const ring = template.slice();
  ring[FIRST_WRITE] = NEVER;
  ring[LAST_WRITE] = NEVER;
  ring[WINDOW] = windowSeconds;
  ring[GRANULARITY] = granularitySeconds;
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
   * The state, then at `RING + …` the ring of bucket sums, indexed by bucket
   * number % count. The state: the bucket number of the first write (reset
   * when a write follows a full window of silence: it tells how much of the
   * ring holds real data); the bucket number of the last write (gaps after it
   * are zeroed lazily); the sum of every bucket, stale ones included until they
   * are cleared; the window and the bucket length in seconds.
   */
  protected ring: number[];
  /** Buckets in the ring: ⌈window / granularity⌉. */
  protected count: number;
  /**
   * Where the last write's bucket sits in the ring (the ring is walked from
   * there one step at a time: a bucket number is past the small-integer range,
   * and V8's `%` on it is a call to fmod). A small integer, so as a field V8
   * keeps it unboxed; read from the ring it was a double used as an index, and
   * recording a stat cost a third more.
   */
  protected lastIndex = 0;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    checkWindow(windowSeconds, granularitySeconds);
    this.count = Math.ceil(windowSeconds / granularitySeconds);
    this.ring = newRing(this.count, windowSeconds, granularitySeconds);
  }

  isEmpty(now: number): boolean {
    const ring = this.ring;
    const granularity = ring[GRANULARITY];
    return (Math.floor(now / granularity) - ring[LAST_WRITE]) * granularity > ring[WINDOW];
  }

  windowAverage(now: number): number {
    const ring = this.ring;
    const length = this.count;
    const granularity = ring[GRANULARITY];
    const lastWrite = ring[LAST_WRITE];
    const gap = Math.floor(now / granularity) - lastWrite;
    if (gap <= 0) {
      // +1: first and last write are both inclusive.
      const valid = Math.min(lastWrite - ring[FIRST_WRITE] + 1, length);
      return roundTo6Digits(ring[WINDOW_TOTAL] / valid);
    }
    if (gap * granularity < ring[WINDOW]) {
      // The seconds since the last write are zero: drop the stale buckets they would overwrite.
      let total = ring[WINDOW_TOTAL];
      let idx = this.lastIndex;
      for (let k = 0; k < gap; k++) {
        idx = idx + 1 === length ? 0 : idx + 1;
        total -= ring[RING + idx];
      }
      const valid = Math.min(lastWrite - ring[FIRST_WRITE] + 1, length - gap);
      return roundTo6Digits(total / valid);
    }
    return 0;
  }

  record(now: number, value: number): void {
    const ring = this.ring;
    const length = this.count;
    const granularity = ring[GRANULARITY];
    const bucket = Math.floor(now / granularity);
    const lastWrite = ring[LAST_WRITE];
    let idx = this.lastIndex;
    if (lastWrite !== bucket) {
      const window = ring[WINDOW];
      if ((bucket - lastWrite) * granularity <= -window) return; // older than a window
      const firstWrite = ring[FIRST_WRITE];
      if (firstWrite === NEVER || firstWrite > bucket) ring[FIRST_WRITE] = bucket;
      if (bucket > lastWrite) {
        if ((bucket - lastWrite) * granularity >= window) {
          // A whole window without writes: start over.
          ring[FIRST_WRITE] = bucket;
          ring.fill(0, RING, RING + length);
          ring[WINDOW_TOTAL] = 0;
          idx = ringIndex(bucket, length);
        } else {
          let total = ring[WINDOW_TOTAL];
          for (let k = bucket - lastWrite; k > 0; k--) {
            idx = idx + 1 === length ? 0 : idx + 1;
            total -= ring[RING + idx];
            ring[RING + idx] = 0;
          }
          ring[WINDOW_TOTAL] = total;
        }
        ring[LAST_WRITE] = bucket;
        this.lastIndex = idx;
      } else {
        // A late stat, still inside the window: less than one ring back from the last write.
        idx -= lastWrite - bucket;
        if (idx < 0) idx += length;
      }
    }
    ring[RING + idx] += value;
    ring[WINDOW_TOTAL] += value;
  }

  resizeWindow(windowSeconds: number, now: number): void {
    const ring = this.ring;
    const oldCount = this.count;
    if (windowSeconds === ring[WINDOW]) return;
    const granularity = ring[GRANULARITY];
    checkWindow(windowSeconds, granularity);
    const count = Math.ceil(windowSeconds / granularity);
    const resized = newRing(count, windowSeconds, granularity);
    const lastWrite = ring[LAST_WRITE];
    let total = 0;
    if ((Math.floor(now / granularity) - lastWrite) * granularity <= ring[WINDOW]) {
      // Copy the newest buckets that fit; a shrinking window drops the oldest.
      let b = lastWrite;
      for (let k = Math.min(count, oldCount); k > 0; k--, b--) {
        // Near t = 0 (simulations, tests) the walk back reaches negative bucket numbers.
        const v = ring[RING + ringIndex(b, oldCount)];
        resized[RING + ringIndex(b, count)] = v;
        total += v;
      }
      // As Knative: the earliest time data may have been written at.
      resized[FIRST_WRITE] = lastWrite - (oldCount - 1);
    }
    resized[LAST_WRITE] = lastWrite;
    resized[WINDOW_TOTAL] = total;
    this.count = count;
    this.ring = resized;
    this.lastIndex = ringIndex(lastWrite, count);
    this.onResize();
  }

  /** For a subclass whose own state depends on the bucket count. */
  protected onResize(): void {}

  /** The bucket number `now` falls in. */
  protected bucketOf(now: number): number {
    return Math.floor(now / this.ring[GRANULARITY]);
  }

  /** The bucket number of the last write; -Infinity before any. */
  protected get lastWriteBucket(): number {
    return this.ring[LAST_WRITE];
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
