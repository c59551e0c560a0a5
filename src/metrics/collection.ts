import {
  bucketCount, copyWindow, linearAverage, newStore, prefetchLines, recordInWindow, startWindow, STATE_SLOTS, windowIsEmpty,
  windowSecondsOf,
} from '../aggregation/timedBuckets.js';
import { weightedAverage, weightsFor } from '../aggregation/weightedBuckets.js';
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
 * Where the four windows sit in a Collection's store (see timedBuckets.ts):
 * their states first, side by side, so that a tick's read of a metric's stable
 * and panic state is one or two cache lines; then the rings, concurrency's
 * stable and panic, then RPS's. Each window in an array of its own was three
 * objects to reach (the window, its array, the array's numbers), and with
 * 10,000 revisions each of them a cache miss.
 */
const CONCURRENCY = 0;
const CONCURRENCY_PANIC = STATE_SLOTS;
const RPS = 2 * STATE_SLOTS;
const RPS_PANIC = 3 * STATE_SLOTS;
const RINGS = 4 * STATE_SLOTS;

/** A linear revision's weight tables: none (each table is a window's length of doubles). */
const NO_WEIGHTS = new Float64Array(0);

/**
 * The windows of one revision (Knative's collector `collection`): concurrency
 * and RPS, each over the stable and the panic window. Pure: time is passed in.
 */
export class Collection {
  private spec: MetricSpec;
  /** The algorithm is fixed for the revision's lifetime, as in Knative (it is an immutable annotation). */
  private readonly weighted: boolean;
  private store: number[];
  /** Buckets in a stable and in a panic window. */
  private stableCount: number;
  private panicCount: number;
  /** The weight tables of those sizes, when weighted. */
  private stableWeights: Float64Array;
  private panicWeights: Float64Array;
  /** Where each window's last write sits in its ring. */
  private concurrencyLast = 0;
  private concurrencyPanicLast = 0;
  private rpsLast = 0;
  private rpsPanicLast = 0;

  constructor(spec: MetricSpec) {
    this.spec = spec;
    this.weighted = spec.aggregationAlgorithm === ALGORITHM_WEIGHTED;
    const stableSeconds = spec.stableWindowSeconds;
    const panicSeconds = spec.panicWindowSeconds;
    this.stableCount = bucketCount(stableSeconds, 1);
    this.panicCount = bucketCount(panicSeconds, 1);
    this.stableWeights = this.weighted ? weightsFor(this.stableCount) : NO_WEIGHTS;
    this.panicWeights = this.weighted ? weightsFor(this.panicCount) : NO_WEIGHTS;
    const store = newStore(RINGS + 2 * (this.stableCount + this.panicCount));
    startWindow(store, CONCURRENCY, stableSeconds, 1);
    startWindow(store, CONCURRENCY_PANIC, panicSeconds, 1);
    startWindow(store, RPS, stableSeconds, 1);
    startWindow(store, RPS_PANIC, panicSeconds, 1);
    this.store = store;
  }

  get metricSpec(): MetricSpec {
    return this.spec;
  }

  /** Applies a new spec: windows are resized keeping their data. */
  update(spec: MetricSpec, now: number): void {
    const old = this.store;
    const stableSeconds = spec.stableWindowSeconds;
    const panicSeconds = spec.panicWindowSeconds;
    if (stableSeconds === windowSecondsOf(old, CONCURRENCY) && panicSeconds === windowSecondsOf(old, CONCURRENCY_PANIC)) {
      this.spec = spec;
      return;
    }
    const stableCount = bucketCount(stableSeconds, 1);
    const panicCount = bucketCount(panicSeconds, 1);
    this.spec = spec;
    const s = this.stableCount;
    const p = this.panicCount;
    const store = newStore(RINGS + 2 * (stableCount + panicCount));
    this.concurrencyLast = copyWindow(old, CONCURRENCY, RINGS, s, this.concurrencyLast,
      store, CONCURRENCY, RINGS, stableSeconds, now);
    this.concurrencyPanicLast = copyWindow(old, CONCURRENCY_PANIC, RINGS + s, p, this.concurrencyPanicLast,
      store, CONCURRENCY_PANIC, RINGS + stableCount, panicSeconds, now);
    this.rpsLast = copyWindow(old, RPS, RINGS + s + p, s, this.rpsLast,
      store, RPS, RINGS + stableCount + panicCount, stableSeconds, now);
    this.rpsPanicLast = copyWindow(old, RPS_PANIC, RINGS + 2 * s + p, p, this.rpsPanicLast,
      store, RPS_PANIC, RINGS + 2 * stableCount + panicCount, panicSeconds, now);
    this.store = store;
    this.stableCount = stableCount;
    this.panicCount = panicCount;
    if (this.weighted) {
      this.stableWeights = weightsFor(stableCount);
      this.panicWeights = weightsFor(panicCount);
    }
  }

  /** Records a stat; what came through the activator is subtracted, since the activator reports it itself. */
  record(now: number, stat: Stat): void {
    const store = this.store;
    const s = this.stableCount;
    const p = this.panicCount;
    const concurrency = stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
    this.concurrencyLast = recordInWindow(store, CONCURRENCY, RINGS, s, this.concurrencyLast, now, concurrency);
    this.concurrencyPanicLast = recordInWindow(store, CONCURRENCY_PANIC, RINGS + s, p, this.concurrencyPanicLast, now, concurrency);
    const rps = stat.requestCount - stat.proxiedRequestCount;
    this.rpsLast = recordInWindow(store, RPS, RINGS + s + p, s, this.rpsLast, now, rps);
    this.rpsPanicLast = recordInWindow(store, RPS_PANIC, RINGS + 2 * s + p, p, this.rpsPanicLast, now, rps);
  }

  /**
   * The decider's read, every tick: the stable and panic averages of
   * concurrency (or RPS) at `now` into `into`; false when the stable window
   * has no data (Knative's ErrNoData). Allocates nothing.
   */
  readWindows(now: number, rps: boolean, into: WindowPair): boolean {
    const store = this.store;
    const s = this.stableCount;
    const p = this.panicCount;
    const stable = rps ? RPS : CONCURRENCY;
    const panic = rps ? RPS_PANIC : CONCURRENCY_PANIC;
    const stableRing = rps ? RINGS + s + p : RINGS;
    const stableLast = rps ? this.rpsLast : this.concurrencyLast;
    const panicLast = rps ? this.rpsPanicLast : this.concurrencyPanicLast;
    const weighted = this.weighted;
    // A weighted average reads its state and both rings whole: with 10,000
    // revisions a dozen cache misses, that the walk asked for one after
    // another. Asked for together first, they arrive together.
    if (weighted) prefetchLines(store, stable, panic + STATE_SLOTS - 1, stableRing, s + p);
    if (this.spec.scraped && windowIsEmpty(store, stable, now)) return false;
    if (weighted) {
      into.stable = weightedAverage(store, stable, stableRing, s, stableLast, this.stableWeights, now);
      into.panic = weightedAverage(store, panic, stableRing + s, p, panicLast, this.panicWeights, now);
    } else {
      into.stable = linearAverage(store, stable, stableRing, s, stableLast, now);
      into.panic = linearAverage(store, panic, stableRing + s, p, panicLast, now);
    }
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
