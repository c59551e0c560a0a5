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
 * Where a revision's four window states sit in its place in a WindowStates
 * table (see timedBuckets.ts): concurrency's stable and panic, then RPS's, so
 * that a tick's read of a metric's stable and panic state is one or two cache
 * lines. Their rings are in the Collection's own store, in the same order.
 */
const CONCURRENCY = 0;
const CONCURRENCY_PANIC = STATE_SLOTS;
const RPS = 2 * STATE_SLOTS;
const RPS_PANIC = 3 * STATE_SLOTS;
/** Numbers in a revision's place in a WindowStates table. */
export const REVISION_STATE_SLOTS = 4 * STATE_SLOTS;

/**
 * The window states of many revisions side by side in one array, a place of
 * REVISION_STATE_SLOTS numbers each (a MultiScaler keeps one for all its
 * revisions). A tick of every revision reads every revision's state: in one
 * array, walked in the order revisions were created, the processor sees the
 * next line coming and has it fetched in time, while a state at the head of
 * each revision's own store was a cache miss per revision with 10,000 of them,
 * a third of a tick's time. A place given back is taken again by the next new
 * revision, so the table holds as many places as revisions were ever alive at
 * once, 192 bytes each.
 */
export class WindowStates {
  /** A packed array of doubles (NaN first, so that V8 never keeps small integers in it), grown by push. */
  readonly table: number[] = [];
  private readonly given: number[] = [];

  /** A place for a revision's states: where in `table` they start. */
  take(): number {
    const given = this.given.pop();
    if (given !== undefined) return given;
    const base = this.table.length;
    for (let k = 0; k < REVISION_STATE_SLOTS; k++) this.table.push(NaN);
    return base;
  }

  /** Gives back a place taken: its states are the next new revision's to set. */
  give(base: number): void {
    this.given.push(base);
  }

  /** Places taken and not given back. */
  get taken(): number {
    return this.table.length / REVISION_STATE_SLOTS - this.given.length;
  }
}

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
  /** Where the windows' states are: a place in a table, shared or the Collection's own. */
  private states: WindowStates;
  /** `states.table`, in a field of its own: every record and tick reads it, one object fewer to reach. */
  private table: number[];
  private base: number;
  /** The rings: concurrency's stable and panic, then RPS's stable and panic. */
  private rings: number[];
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

  /** `states`: the table to keep the windows' states in; one of its own when not given. */
  constructor(spec: MetricSpec, states: WindowStates = new WindowStates()) {
    this.spec = spec;
    this.weighted = spec.aggregationAlgorithm === ALGORITHM_WEIGHTED;
    const stableSeconds = spec.stableWindowSeconds;
    const panicSeconds = spec.panicWindowSeconds;
    this.stableCount = bucketCount(stableSeconds, 1);
    this.panicCount = bucketCount(panicSeconds, 1);
    this.stableWeights = this.weighted ? weightsFor(this.stableCount) : NO_WEIGHTS;
    this.panicWeights = this.weighted ? weightsFor(this.panicCount) : NO_WEIGHTS;
    this.rings = newStore(2 * (this.stableCount + this.panicCount));
    this.states = states;
    this.table = states.table;
    const b = this.base = states.take();
    startWindow(this.table, b + CONCURRENCY, stableSeconds, 1);
    startWindow(this.table, b + CONCURRENCY_PANIC, panicSeconds, 1);
    startWindow(this.table, b + RPS, stableSeconds, 1);
    startWindow(this.table, b + RPS_PANIC, panicSeconds, 1);
  }

  get metricSpec(): MetricSpec {
    return this.spec;
  }

  /**
   * Gives the place of its states back to a shared table, keeping them in a
   * table of its own: for a revision leaving its MultiScaler, whose windows
   * somebody may still read (or write) while the place becomes another's.
   */
  release(): void {
    const own = new WindowStates();
    const base = own.take();
    for (let k = 0; k < REVISION_STATE_SLOTS; k++) own.table[base + k] = this.table[this.base + k];
    this.states.give(this.base);
    this.states = own;
    this.table = own.table;
    this.base = base;
  }

  /** Applies a new spec: windows are resized keeping their data. */
  update(spec: MetricSpec, now: number): void {
    const table = this.table;
    const b = this.base;
    const stableSeconds = spec.stableWindowSeconds;
    const panicSeconds = spec.panicWindowSeconds;
    if (stableSeconds === windowSecondsOf(table, b + CONCURRENCY) && panicSeconds === windowSecondsOf(table, b + CONCURRENCY_PANIC)) {
      this.spec = spec;
      return;
    }
    const stableCount = bucketCount(stableSeconds, 1);
    const panicCount = bucketCount(panicSeconds, 1);
    this.spec = spec;
    const s = this.stableCount;
    const p = this.panicCount;
    const old = this.rings;
    const rings = newStore(2 * (stableCount + panicCount));
    // Each window's state stays in its place, its ring moves to the new store.
    this.concurrencyLast = copyWindow(table, b + CONCURRENCY, old, 0, s, this.concurrencyLast,
      table, b + CONCURRENCY, rings, 0, stableSeconds, now);
    this.concurrencyPanicLast = copyWindow(table, b + CONCURRENCY_PANIC, old, s, p, this.concurrencyPanicLast,
      table, b + CONCURRENCY_PANIC, rings, stableCount, panicSeconds, now);
    this.rpsLast = copyWindow(table, b + RPS, old, s + p, s, this.rpsLast,
      table, b + RPS, rings, stableCount + panicCount, stableSeconds, now);
    this.rpsPanicLast = copyWindow(table, b + RPS_PANIC, old, 2 * s + p, p, this.rpsPanicLast,
      table, b + RPS_PANIC, rings, 2 * stableCount + panicCount, panicSeconds, now);
    this.rings = rings;
    this.stableCount = stableCount;
    this.panicCount = panicCount;
    if (this.weighted) {
      this.stableWeights = weightsFor(stableCount);
      this.panicWeights = weightsFor(panicCount);
    }
  }

  /** Records a stat; what came through the activator is subtracted, since the activator reports it itself. */
  record(now: number, stat: Stat): void {
    const table = this.table;
    const b = this.base;
    const rings = this.rings;
    const s = this.stableCount;
    const p = this.panicCount;
    const concurrency = stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
    this.concurrencyLast = recordInWindow(table, b + CONCURRENCY, rings, 0, s, this.concurrencyLast, now, concurrency);
    this.concurrencyPanicLast = recordInWindow(table, b + CONCURRENCY_PANIC, rings, s, p, this.concurrencyPanicLast, now, concurrency);
    const rps = stat.requestCount - stat.proxiedRequestCount;
    this.rpsLast = recordInWindow(table, b + RPS, rings, s + p, s, this.rpsLast, now, rps);
    this.rpsPanicLast = recordInWindow(table, b + RPS_PANIC, rings, 2 * s + p, p, this.rpsPanicLast, now, rps);
  }

  /**
   * The decider's read, every tick: the stable and panic averages of
   * concurrency (or RPS) at `now` into `into`; false when the stable window
   * has no data (Knative's ErrNoData). Allocates nothing.
   */
  readWindows(now: number, rps: boolean, into: WindowPair): boolean {
    const table = this.table;
    const rings = this.rings;
    const s = this.stableCount;
    const p = this.panicCount;
    const stable = this.base + (rps ? RPS : CONCURRENCY);
    const panic = this.base + (rps ? RPS_PANIC : CONCURRENCY_PANIC);
    const stableRing = rps ? s + p : 0;
    const stableLast = rps ? this.rpsLast : this.concurrencyLast;
    const panicLast = rps ? this.rpsPanicLast : this.concurrencyPanicLast;
    const weighted = this.weighted;
    // A weighted average reads both rings whole: with 10,000 revisions eight
    // or nine cache misses, that the walk asked for one after another. Asked
    // for together first, they arrive together.
    if (weighted) prefetchLines(rings, stableRing, s + p);
    if (this.spec.scraped && windowIsEmpty(table, stable, now)) return false;
    if (weighted) {
      into.stable = weightedAverage(table, stable, rings, stableRing, s, stableLast, this.stableWeights, now);
      into.panic = weightedAverage(table, panic, rings, stableRing + s, p, panicLast, this.panicWeights, now);
    } else {
      into.stable = linearAverage(table, stable, rings, stableRing, s, stableLast, now);
      into.panic = linearAverage(table, panic, rings, stableRing + s, p, panicLast, now);
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
