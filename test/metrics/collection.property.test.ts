import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MetricSpec } from '../../src/config/resolve.js';
import { Collection, type WindowValues } from '../../src/metrics/collection.js';
import type { Stat } from '../../src/metrics/stat.js';
import { ReferenceTimedBuckets, ReferenceWeightedBuckets } from '../helpers/referenceBuckets.js';

/**
 * A Collection keeps its four windows in one store, their states side by side
 * and their rings after them, and re-lays the store out when a window changes
 * size. Each window must still behave exactly as a window of its own: the
 * straightforward port of Knative's, four of them, fed the same stats.
 */
type Op =
  | { kind: 'stat'; dt: number; stat: Stat }
  | { kind: 'late'; back: number; stat: Stat }
  | { kind: 'update'; dt: number; stable: number; panicShare: number };

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

describe('a Collection\'s windows in one store', () => {
  it('read exactly as four windows of their own, through stats, late stats and window changes', () => {
    fc.assert(fc.property(scenario, (s) => {
      const first = spec(s.weighted, s.scraped, s.stable, s.panicShare);
      const collection = new Collection(first);
      const reference = new ReferenceCollection(first);
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
        } else {
          t += o.dt;
          current = o.stable === 0 ? current : spec(s.weighted, s.scraped, o.stable, o.panicShare);
          collection.update(current, t);
          reference.update(current, t);
          expect(collection.metricSpec).toBe(current);
        }
        for (const ahead of s.lookAhead) {
          const now = t + ahead;
          for (const [got, want] of [
            [collection.stableAndPanicConcurrency(now), reference.values(now, false)],
            [collection.stableAndPanicRps(now), reference.values(now, true)],
          ]) {
            if (!same(got, want)) throw new Error(`at ${now}: ${JSON.stringify(got)}, four windows of their own give ${JSON.stringify(want)}`);
          }
        }
      }
    }), { numRuns: 300 });
  });
});
