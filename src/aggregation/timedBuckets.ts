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
 * A window lives in stores, plain arrays of doubles that may hold many
 * windows: `STATE_SLOTS` numbers of state at the window's `state` offset in
 * one, and its ring of `count` bucket sums at its `ring` offset in another (or
 * the same), indexed by bucket number % count. A standalone window keeps both
 * in one store; a MultiScaler keeps every revision's states side by side in
 * one table and each revision's rings in a store of its own (see
 * collection.ts), so that a tick, which reads states, walks one array.
 *
 * The state: the bucket number of the first write (reset when a write follows
 * a full window of silence: it tells how much of the ring holds real data);
 * the bucket number of the last write (gaps after it are zeroed lazily); the
 * sum of every bucket, stale ones included until they are cleared; the window
 * and the bucket length in seconds; and the bucket after the last write, the
 * oldest in the window, which the first second of silence drops: a linear
 * average one second after the last write, a tick's usual case, reads the
 * state and no ring. As object fields they would be doubles, which V8 keeps
 * each in a box of its own; with 10,000 revisions every box is a cache miss.
 *
 * Where the last write's bucket sits in the ring, `lastIndex`, is kept by the
 * caller and passed in: a small integer that V8 keeps unboxed in an object
 * field, while read from the store it was a double used as an index, and
 * recording a stat cost a third more. The ring is walked from it one step at a
 * time: a bucket number is past the small-integer range, and V8's `%` on it is
 * a call to fmod.
 */
const FIRST_WRITE = 0;
const LAST_WRITE = 1;
const WINDOW_TOTAL = 2;
const WINDOW = 3;
const GRANULARITY = 4;
const OLDEST = 5;
export const STATE_SLOTS = 6;

/**
 * Zeroed stores per length, that a new store copies. A plain array, not a
 * Float64Array: its numbers sit on V8's heap right after the array object,
 * while a typed array reaches them through a pointer off the heap, one more
 * cache miss per window and tick. Built from a double and grown by push, so
 * that V8 keeps it packed (no holes to check); copied by slice, so that the
 * copy is exactly as long.
 */
const zeroed = new Map<number, number[]>();

/** A store of `length` zeros. */
export function newStore(length: number): number[] {
  let template = zeroed.get(length);
  if (template === undefined) {
    template = [0.5];
    for (let i = 1; i < length; i++) template.push(0);
    template[0] = 0;
    zeroed.set(length, template);
  }
  return template.slice();
}

/** Buckets in a window's ring: ⌈window / granularity⌉. */
export function bucketCount(windowSeconds: number, granularitySeconds: number): number {
  checkWindow(windowSeconds, granularitySeconds);
  return Math.ceil(windowSeconds / granularitySeconds);
}

/** Sets up the window at `state` as nothing written (its ring, still zeros, is the caller's). */
export function startWindow(states: number[], state: number, windowSeconds: number, granularitySeconds: number): void {
  states[state + FIRST_WRITE] = NEVER;
  states[state + LAST_WRITE] = NEVER;
  states[state + WINDOW_TOTAL] = 0;
  states[state + WINDOW] = windowSeconds;
  states[state + GRANULARITY] = granularitySeconds;
  states[state + OLDEST] = 0;
}

/** The window's length in seconds. */
export function windowSecondsOf(states: number[], state: number): number {
  return states[state + WINDOW];
}

/** True when nothing was recorded within the window before `now`. */
export function windowIsEmpty(states: number[], state: number, now: number): boolean {
  const granularity = states[state + GRANULARITY];
  return (Math.floor(now / granularity) - states[state + LAST_WRITE]) * granularity > states[state + WINDOW];
}

/**
 * The linear window average (Knative's TimedFloat64Buckets.WindowAverage):
 * over a partial window right after the first write or after a gap longer than
 * the window; missing seconds inside the window count as zero.
 */
export function linearAverage(
  states: number[], state: number, rings: number[], ring: number, count: number, lastIndex: number, now: number,
): number {
  const granularity = states[state + GRANULARITY];
  const lastWrite = states[state + LAST_WRITE];
  const gap = Math.floor(now / granularity) - lastWrite;
  if (gap <= 0) {
    // +1: first and last write are both inclusive.
    const valid = Math.min(lastWrite - states[state + FIRST_WRITE] + 1, count);
    return roundTo6Digits(states[state + WINDOW_TOTAL] / valid);
  }
  if (gap * granularity < states[state + WINDOW]) {
    // The seconds since the last write are zero: drop the stale buckets they would overwrite.
    let total = states[state + WINDOW_TOTAL];
    if (gap === 1) total -= states[state + OLDEST];
    else {
      let idx = lastIndex;
      for (let k = 0; k < gap; k++) {
        idx = idx + 1 === count ? 0 : idx + 1;
        total -= rings[ring + idx];
      }
    }
    const valid = Math.min(lastWrite - states[state + FIRST_WRITE] + 1, count - gap);
    return roundTo6Digits(total / valid);
  }
  return 0;
}

/**
 * Adds `value` to the bucket of `now`, clearing the buckets skipped since the
 * last write (a full window of silence resets everything); returns the new
 * `lastIndex`. A stat older than a window is dropped.
 */
export function recordInWindow(
  states: number[], state: number, rings: number[], ring: number, count: number, lastIndex: number, now: number,
  value: number,
): number {
  const granularity = states[state + GRANULARITY];
  const bucket = Math.floor(now / granularity);
  const lastWrite = states[state + LAST_WRITE];
  let idx = lastIndex;
  let next = lastIndex;
  if (lastWrite !== bucket) {
    const window = states[state + WINDOW];
    if ((bucket - lastWrite) * granularity <= -window) return lastIndex; // older than a window
    const firstWrite = states[state + FIRST_WRITE];
    if (firstWrite === NEVER || firstWrite > bucket) states[state + FIRST_WRITE] = bucket;
    if (bucket > lastWrite) {
      if ((bucket - lastWrite) * granularity >= window) {
        // A whole window without writes: start over.
        states[state + FIRST_WRITE] = bucket;
        rings.fill(0, ring, ring + count);
        states[state + WINDOW_TOTAL] = 0;
        idx = ringIndex(bucket, count);
      } else {
        let total = states[state + WINDOW_TOTAL];
        for (let k = bucket - lastWrite; k > 0; k--) {
          idx = idx + 1 === count ? 0 : idx + 1;
          total -= rings[ring + idx];
          rings[ring + idx] = 0;
        }
        states[state + WINDOW_TOTAL] = total;
      }
      states[state + LAST_WRITE] = bucket;
      next = idx;
    } else {
      // A late stat, still inside the window: less than one ring back from the last write.
      idx -= lastWrite - bucket;
      if (idx < 0) idx += count;
    }
  }
  rings[ring + idx] += value;
  states[state + WINDOW_TOTAL] += value;
  // The bucket after the last write is another after a new last write, and a
  // late stat may have written it. A stat into the last write's bucket leaves
  // it as it was (but in a ring of one bucket, where no average reads it).
  if (lastWrite !== bucket) keepOldest(states, state, rings, ring, count, next);
  return next;
}

/** Keeps in the state the bucket after `lastIndex`: the oldest in the window, that a second of silence drops. */
function keepOldest(states: number[], state: number, rings: number[], ring: number, count: number, lastIndex: number): void {
  states[state + OLDEST] = rings[ring + (lastIndex + 1 === count ? 0 : lastIndex + 1)];
}

/**
 * Copies the window at `fromState` in `fromStates`, with its ring of
 * `fromCount` buckets at `fromRing` in `fromRings`, to `toState` and an
 * unwritten ring at `toRing` in `toRings`, as a window of `windowSeconds`
 * (Knative's ResizeWindow): the newest buckets that fit, if the data is still
 * inside the old window; returns the copy's `lastIndex`. The same length is a
 * plain copy. The copy's state may be the window's own (a revision keeps its
 * place in the MultiScaler's table through a resize); its ring may not.
 */
export function copyWindow(
  fromStates: number[], fromState: number, fromRings: number[], fromRing: number, fromCount: number, fromLastIndex: number,
  toStates: number[], toState: number, toRings: number[], toRing: number, windowSeconds: number, now: number,
): number {
  const granularity = fromStates[fromState + GRANULARITY];
  const fromWindow = fromStates[fromState + WINDOW];
  if (windowSeconds === fromWindow) {
    for (let k = 0; k < STATE_SLOTS; k++) toStates[toState + k] = fromStates[fromState + k];
    for (let k = 0; k < fromCount; k++) toRings[toRing + k] = fromRings[fromRing + k];
    return fromLastIndex;
  }
  const count = bucketCount(windowSeconds, granularity);
  // Read before startWindow, which may overwrite it.
  const lastWrite = fromStates[fromState + LAST_WRITE];
  startWindow(toStates, toState, windowSeconds, granularity);
  let total = 0;
  if ((Math.floor(now / granularity) - lastWrite) * granularity <= fromWindow) {
    // Copy the newest buckets that fit; a shrinking window drops the oldest.
    let b = lastWrite;
    for (let k = Math.min(count, fromCount); k > 0; k--, b--) {
      // Near t = 0 (simulations, tests) the walk back reaches negative bucket numbers.
      const v = fromRings[fromRing + ringIndex(b, fromCount)];
      toRings[toRing + ringIndex(b, count)] = v;
      total += v;
    }
    // As Knative: the earliest time data may have been written at.
    toStates[toState + FIRST_WRITE] = lastWrite - (fromCount - 1);
  }
  toStates[toState + LAST_WRITE] = lastWrite;
  toStates[toState + WINDOW_TOTAL] = total;
  const last = ringIndex(lastWrite, count);
  keepOldest(toStates, toState, toRings, toRing, count, last);
  return last;
}

/** The bucket number `now` falls in, in the window at `state`. */
export function bucketAt(states: number[], state: number, now: number): number {
  return Math.floor(now / states[state + GRANULARITY]);
}

/** The bucket number of the window's last write; -Infinity before any. */
export function lastWriteBucket(states: number[], state: number): number {
  return states[state + LAST_WRITE];
}

/**
 * Time buckets with a linear window average (Knative's TimedFloat64Buckets),
 * a window with a store of its own for its state and its ring. A revision's
 * Collection keeps its windows in shared stores instead, through the same
 * functions.
 */
export class TimedBuckets implements WindowAverager {
  /** The state at 0, the ring at STATE_SLOTS. */
  protected store: number[];
  protected count: number;
  protected lastIndex = 0;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    this.count = bucketCount(windowSeconds, granularitySeconds);
    this.store = newStore(STATE_SLOTS + this.count);
    startWindow(this.store, 0, windowSeconds, granularitySeconds);
  }

  isEmpty(now: number): boolean {
    return windowIsEmpty(this.store, 0, now);
  }

  windowAverage(now: number): number {
    return linearAverage(this.store, 0, this.store, STATE_SLOTS, this.count, this.lastIndex, now);
  }

  record(now: number, value: number): void {
    this.lastIndex = recordInWindow(this.store, 0, this.store, STATE_SLOTS, this.count, this.lastIndex, now, value);
  }

  resizeWindow(windowSeconds: number, now: number): void {
    const store = this.store;
    if (windowSeconds === store[WINDOW]) return;
    const count = bucketCount(windowSeconds, store[GRANULARITY]);
    const resized = newStore(STATE_SLOTS + count);
    this.lastIndex = copyWindow(
      store, 0, store, STATE_SLOTS, this.count, this.lastIndex, resized, 0, resized, STATE_SLOTS, windowSeconds, now,
    );
    this.store = resized;
    this.count = count;
  }
}

/** Where prefetchLines leaves its sum, so that its loads are not dead code. */
let prefetched = 0;

/**
 * Loads a number of every cache line of store[from, from + length): loads that
 * depend on nothing loaded before nor on each other, so the processor has the
 * lines fetched at once, and the reads that follow find them in the cache.
 */
export function prefetchLines(store: number[], from: number, length: number): void {
  const last = from + length - 1;
  let sum = store[last];
  // Eight doubles to a 64-byte line: a step of eight reaches every line.
  for (let k = from; k < last; k += 8) sum += store[k];
  prefetched = sum;
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
