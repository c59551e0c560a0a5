import { TimedBuckets } from '../aggregation/timedBuckets.js';
import type { WindowAverager } from '../aggregation/windowAverager.js';
import { WeightedBuckets } from '../aggregation/weightedBuckets.js';
import type { MetricSpec } from '../config/resolve.js';
import { ALGORITHM_WEIGHTED } from '../config/annotations.js';
import type { Stat } from './stat.js';

/** Stable and panic window averages of one metric, or why there are none. */
export type WindowValues =
  | { readonly ok: true; readonly stable: number; readonly panic: number }
  | { readonly ok: false; readonly reason: 'no-data' | 'not-collecting' };

/** Where the decider takes a stable and a panic average without allocating (it is one per revision). */
export interface WindowPair {
  stable: number;
  panic: number;
}

export const NO_DATA: WindowValues = Object.freeze({ ok: false, reason: 'no-data' });
export const NOT_COLLECTING: WindowValues = Object.freeze({ ok: false, reason: 'not-collecting' });

/**
 * The windows of one revision (Knative's collector `collection`): concurrency
 * and RPS, each over the stable and the panic window. Pure: time is passed in.
 */
export class Collection {
  private spec: MetricSpec;
  private readonly concurrency: WindowAverager;
  private readonly concurrencyPanic: WindowAverager;
  private readonly rps: WindowAverager;
  private readonly rpsPanic: WindowAverager;

  constructor(spec: MetricSpec) {
    this.spec = spec;
    // The algorithm is fixed for the revision's lifetime, as in Knative (it is an immutable annotation).
    const make = spec.aggregationAlgorithm === ALGORITHM_WEIGHTED
      ? (w: number) => new WeightedBuckets(w)
      : (w: number) => new TimedBuckets(w);
    this.concurrency = make(spec.stableWindowSeconds);
    this.concurrencyPanic = make(spec.panicWindowSeconds);
    this.rps = make(spec.stableWindowSeconds);
    this.rpsPanic = make(spec.panicWindowSeconds);
  }

  get metricSpec(): MetricSpec {
    return this.spec;
  }

  /** Applies a new spec: windows are resized keeping their data. */
  update(spec: MetricSpec, now: number): void {
    this.spec = spec;
    this.concurrency.resizeWindow(spec.stableWindowSeconds, now);
    this.concurrencyPanic.resizeWindow(spec.panicWindowSeconds, now);
    this.rps.resizeWindow(spec.stableWindowSeconds, now);
    this.rpsPanic.resizeWindow(spec.panicWindowSeconds, now);
  }

  /** Records a stat; what came through the activator is subtracted, since the activator reports it itself. */
  record(now: number, stat: Stat): void {
    const concurrency = stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
    this.concurrency.record(now, concurrency);
    this.concurrencyPanic.record(now, concurrency);
    const rps = stat.requestCount - stat.proxiedRequestCount;
    this.rps.record(now, rps);
    this.rpsPanic.record(now, rps);
  }

  /**
   * The decider's read, every tick: the stable and panic averages of
   * concurrency (or RPS) at `now` into `into`; false when the stable window
   * has no data (Knative's ErrNoData). Allocates nothing.
   */
  readWindows(now: number, rps: boolean, into: WindowPair): boolean {
    const stable = rps ? this.rps : this.concurrency;
    if (this.spec.scraped && stable.isEmpty(now)) return false;
    into.stable = stable.windowAverage(now);
    into.panic = (rps ? this.rpsPanic : this.concurrencyPanic).windowAverage(now);
    return true;
  }

  stableAndPanicConcurrency(now: number): WindowValues {
    return this.values(now, false);
  }

  stableAndPanicRps(now: number): WindowValues {
    return this.values(now, true);
  }

  private values(now: number, rps: boolean): WindowValues {
    const pair = { stable: 0, panic: 0 };
    return this.readWindows(now, rps, pair) ? { ok: true, stable: pair.stable, panic: pair.panic } : NO_DATA;
  }
}
