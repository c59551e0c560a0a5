import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MetricSpec } from '../../src/config/resolve.js';
import { Collection, type WindowValues, WindowStates } from '../../src/metrics/collection.js';
import type { Stat } from '../../src/metrics/stat.js';
import { ReferenceTimedBuckets, ReferenceWeightedBuckets } from '../helpers/referenceBuckets.js';

/**
 * A Collection keeps its four windows' states in a place of a table that other
 * revisions share, and its rings in one store, which it re-lays out when a
 * window changes size; it gives its place back when its revision goes, and a
 * new revision takes it. Each window must still behave exactly as a window of
 * its own: the straightforward port of Knative's, four of them, fed the same
 * stats, and never move another revision's windows.
 */
type Op =
  | { kind: 'stat'; dt: number; stat: Stat }
  | { kind: 'late'; back: number; stat: Stat }
  | { kind: 'oldest'; panic: boolean; stat: Stat }
  | { kind: 'update'; dt: number; stable: number; panicShare: number }
  | { kind: 'release' };

const value = fc.oneof(fc.integer({ min: 0, max: 500 }), fc.double({ min: 0, max: 1e5, noNaN: true }), fc.constant(0));
const stat: fc.Arbitrary<Stat> = fc.record({
  podName: fc.constant('p'),
  averageConcurrentRequests: value,
  averageProxiedConcurrentRequests: fc.oneof(fc.constant(0), value),
  requestCount: value,
  proxiedRequestCount: fc.oneof(fc.constant(0), value),
  processUptime: fc.constant(0),
});
const dt = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0, 0.5, 1, 1, 1, 2) },
  { weight: 1, arbitrary: fc.integer({ min: 3, max: 400 }) },
);
const stableWindow = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(6, 60, 600));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('stat' as const), dt, stat }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('late' as const), back: fc.double({ min: 0, max: 80, noNaN: true }), stat }) },
  // A late stat into the oldest bucket a window holds: the one that the next second of silence drops.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('oldest' as const), panic: fc.boolean(), stat }) },
  // The revision leaves its MultiScaler (somebody still holds it) and a new one takes its place.
  { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
  // The same windows half the time: an update that changes nothing must keep every bit.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('update' as const), dt, stable: fc.oneof(fc.constant(0), stableWindow), panicShare: fc.constantFrom(0, 0.1, 0.5, 1) }) },
);
const scenario = fc.record({
  weighted: fc.boolean(),
  scraped: fc.boolean(),
  stable: stableWindow,
  panicShare: fc.constantFrom(0.1, 0.5, 1),
  start: fc.constantFrom(0, 7.5, 1_700_000_000),
  ops: fc.array(op, { minLength: 1, maxLength: 300, size: 'max' }),
  lookAhead: fc.array(fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 700 })), { minLength: 1, maxLength: 3 }),
});

function spec(weighted: boolean, scraped: boolean, stable: number, panicShare: number): MetricSpec {
  return {
    stableWindowSeconds: stable,
    panicWindowSeconds: Math.max(1, Math.round(stable * panicShare)),
    aggregationAlgorithm: weighted ? 'weighted-exponential' : '',
    scraped,
  };
}

/** Knative's collection over four windows of their own. */
class ReferenceCollection {
  private readonly windows: ReferenceTimedBuckets[];

  constructor(private spec: MetricSpec) {
    const make = (w: number) => spec.aggregationAlgorithm === '' ? new ReferenceTimedBuckets(w) : new ReferenceWeightedBuckets(w);
    this.windows = [make(spec.stableWindowSeconds), make(spec.panicWindowSeconds), make(spec.stableWindowSeconds), make(spec.panicWindowSeconds)];
  }

  update(spec: MetricSpec, now: number): void {
    this.spec = spec;
    const [c, cp, r, rp] = this.windows;
    c.resizeWindow(spec.stableWindowSeconds, now);
    cp.resizeWindow(spec.panicWindowSeconds, now);
    r.resizeWindow(spec.stableWindowSeconds, now);
    rp.resizeWindow(spec.panicWindowSeconds, now);
  }

  record(now: number, s: Stat): void {
    const [c, cp, r, rp] = this.windows;
    const concurrency = s.averageConcurrentRequests - s.averageProxiedConcurrentRequests;
    c.record(now, concurrency);
    cp.record(now, concurrency);
    const rps = s.requestCount - s.proxiedRequestCount;
    r.record(now, rps);
    rp.record(now, rps);
  }

  values(now: number, rps: boolean): WindowValues {
    const [stable, panic] = rps ? this.windows.slice(2) : this.windows.slice(0, 2);
    if (this.spec.scraped && stable.isEmpty(now)) return { ok: false, reason: 'no-data' };
    return { ok: true, stable: stable.windowAverage(now), panic: panic.windowAverage(now) };
  }
}

function same(got: WindowValues, want: WindowValues): boolean {
  if (!got.ok || !want.ok) return got.ok === want.ok && (got.ok || want.ok || got.reason === want.reason);
  return Object.is(got.stable, want.stable) && Object.is(got.panic, want.panic);
}

/** The load of the revisions beside the one under test: a stat every time it gets one. */
const NEIGHBOUR_STAT: Stat = {
  podName: 'n', averageConcurrentRequests: 3.25, averageProxiedConcurrentRequests: 0, requestCount: 11, proxiedRequestCount: 0, processUptime: 0,
};

describe('a Collection\'s windows in a shared table and a store of rings', () => {
  it('read exactly as four windows of their own, through stats, late stats, window changes and a place handed on', () => {
    fc.assert(fc.property(scenario, (s) => {
      const first = spec(s.weighted, s.scraped, s.stable, s.panicShare);
      const states = new WindowStates();
      const collection = new Collection(first, states);
      const reference = new ReferenceCollection(first);
      // The revisions beside it in the table: one from the start, one that takes its place when it goes.
      const others = [{ collection: new Collection(first, states), reference: new ReferenceCollection(first) }];
      let current = first;
      let t = s.start;
      for (const o of s.ops) {
        if (o.kind === 'stat') {
          t += o.dt;
          collection.record(t, o.stat);
          reference.record(t, o.stat);
        } else if (o.kind === 'late') {
          const at = Math.max(0, t - o.back);
          collection.record(at, o.stat);
          reference.record(at, o.stat);
        } else if (o.kind === 'oldest') {
          const window = o.panic ? current.panicWindowSeconds : current.stableWindowSeconds;
          const at = Math.max(0, Math.floor(t) - (window - 1));
          collection.record(at, o.stat);
          reference.record(at, o.stat);
        } else if (o.kind === 'release') {
          collection.release();
          if (others.length === 1) others.push({ collection: new Collection(first, states), reference: new ReferenceCollection(first) });
          expect(states.taken).toBe(2);
        } else {
          t += o.dt;
          current = o.stable === 0 ? current : spec(s.weighted, s.scraped, o.stable, o.panicShare);
          collection.update(current, t);
          reference.update(current, t);
          expect(collection.metricSpec).toBe(current);
        }
        for (const other of others) {
          other.collection.record(t, NEIGHBOUR_STAT);
          other.reference.record(t, NEIGHBOUR_STAT);
        }
        for (const ahead of s.lookAhead) {
          const now = t + ahead;
          for (const [who, c, r] of [['it', collection, reference] as const, ...others.map((x, i) => [`other ${i}`, x.collection, x.reference] as const)]) {
            for (const [got, want] of [
              [c.stableAndPanicConcurrency(now), r.values(now, false)],
              [c.stableAndPanicRps(now), r.values(now, true)],
            ]) {
              if (!same(got, want)) throw new Error(`${who} at ${now}: ${JSON.stringify(got)}, four windows of their own give ${JSON.stringify(want)}`);
            }
          }
        }
      }
    }), { numRuns: 300 });
  });
});
