import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimedBuckets } from '../../src/aggregation/timedBuckets.js';
import { WeightedBuckets } from '../../src/aggregation/weightedBuckets.js';
import { ReferenceTimedBuckets, ReferenceWeightedBuckets } from '../helpers/referenceBuckets.js';

/**
 * The windows walk their ring without `%` and take the weighted window's first
 * weight from a per-size cache; Knative's decisions depend on every bit of the
 * averages, so each step must give exactly what the straightforward port gives.
 */
type Op =
  | { kind: 'record'; dt: number; value: number }
  | { kind: 'late'; back: number; value: number }
  | { kind: 'oldest'; value: number }
  | { kind: 'resize'; dt: number; window: number };

const windows = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(6, 60, 600, 3600));
// Mostly a second or less between events (stats every second, ticks every 2), sometimes long silences.
const dt = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0, 0.25, 0.5, 1, 1, 1, 2) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 5, noNaN: true }) },
  { weight: 1, arbitrary: fc.integer({ min: 3, max: 4000 }) },
);
const value = fc.oneof(
  fc.double({ min: -1e3, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: 0, max: 500 }),
  fc.constant(0),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('record' as const), dt, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('late' as const), back: fc.double({ min: 0, max: 80, noNaN: true }), value }) },
  // A late stat into the oldest bucket the window holds: the one that the next second of silence drops.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('oldest' as const), value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize' as const), dt, window: windows }) },
);
const scenario = fc.record({
  start: fc.constantFrom(0, 7.5, 1_700_000_000),
  window: windows,
  granularity: fc.constantFrom(1, 1, 1, 2),
  // size 'max': fast-check's default size keeps arrays near 10 elements, too few to wrap a ring.
  ops: fc.array(op, { minLength: 1, maxLength: 400, size: 'max' }),
  // How far past the last event each check also looks (ticks read ahead of the stats).
  lookAhead: fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.integer({ min: 0, max: 4000 })), { minLength: 1, maxLength: 4 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

interface Window {
  record(now: number, value: number): void;
  windowAverage(now: number): number;
  isEmpty(now: number): boolean;
  resizeWindow(windowSeconds: number, now: number): void;
}

function replay(
  make: (window: number, granularity: number) => Window,
  makeReference: (window: number, granularity: number) => Window,
  s: Scenario,
): void {
  const window = Math.max(s.window, s.granularity);
  const fast = make(window, s.granularity);
  const reference = makeReference(window, s.granularity);
  let current = window;
  let t = s.start;
  for (const o of s.ops) {
    if (o.kind === 'record') {
      t += o.dt;
      fast.record(t, o.value);
      reference.record(t, o.value);
    } else if (o.kind === 'late') {
      const at = Math.max(0, t - o.back);
      fast.record(at, o.value);
      reference.record(at, o.value);
    } else if (o.kind === 'oldest') {
      const buckets = Math.ceil(current / s.granularity);
      const at = Math.max(0, (Math.floor(t / s.granularity) - (buckets - 1)) * s.granularity);
      fast.record(at, o.value);
      reference.record(at, o.value);
    } else {
      t += o.dt;
      current = Math.max(o.window, s.granularity);
      fast.resizeWindow(current, t);
      reference.resizeWindow(current, t);
    }
    for (const ahead of s.lookAhead) {
      const now = t + ahead;
      const [got, want] = [fast.windowAverage(now), reference.windowAverage(now)];
      if (!Object.is(got, want)) throw new Error(`windowAverage(${now}) = ${got}, the straightforward port gives ${want}`);
      expect(fast.isEmpty(now)).toBe(reference.isEmpty(now));
    }
  }
}

describe('optimised windows against the straightforward port of Knative, bit for bit', () => {
  it('linear (TimedBuckets)', () => {
    fc.assert(fc.property(scenario, (s) => replay(
      (w, g) => new TimedBuckets(w, g),
      (w, g) => new ReferenceTimedBuckets(w, g),
      s,
    )), { numRuns: 250 });
  });

  it('weighted-exponential (WeightedBuckets)', () => {
    fc.assert(fc.property(scenario, (s) => replay(
      (w, g) => new WeightedBuckets(w, g),
      (w, g) => new ReferenceWeightedBuckets(w, g),
      s,
    )), { numRuns: 250 });
  });

  it('weighted-exponential after every gap from 0 to past the window, many windows sharing one weight cache', () => {
    for (const size of [1, 2, 5, 6, 7, 41, 42, 60, 3600]) {
      const fast = [new WeightedBuckets(size), new WeightedBuckets(size)];
      const reference = new ReferenceWeightedBuckets(size);
      for (let s = 0; s < size; s++) {
        const v = ((s * 7919) % 97) / 7;
        for (const w of [...fast, reference]) w.record(1_700_000_000 + s, v);
      }
      const last = 1_700_000_000 + size - 1;
      for (let gap = 0; gap <= size + 2; gap++) {
        const want = reference.windowAverage(last + gap);
        for (const w of fast) expect(Object.is(w.windowAverage(last + gap), want)).toBe(true);
      }
    }
  });
});
