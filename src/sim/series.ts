import type { SecondExtras, TimeseriesRow } from './report.js';

/** Chart points per run and quantity, at most: buckets are ⌈duration / CHART_BUCKETS⌉ seconds. */
export const CHART_BUCKETS = 2000;
/** p99 latency is taken over intervals of this many seconds. */
export const LATENCY_INTERVAL_S = 10;

/**
 * One quantity in fixed-size time buckets, chosen up front from the
 * duration: each bucket keeps its min and max (with when they happened) and
 * its sum, so memory does not depend on the duration and spikes survive.
 */
export class BucketSeries {
  readonly buckets: number;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly tMin: Float64Array;
  private readonly tMax: Float64Array;
  private readonly sum: Float64Array;
  private readonly count: Uint32Array;

  constructor(readonly durationS: number, readonly bucketSeconds: number) {
    this.buckets = Math.max(1, Math.ceil(durationS / bucketSeconds));
    this.min = new Float64Array(this.buckets).fill(Infinity);
    this.max = new Float64Array(this.buckets).fill(-Infinity);
    this.tMin = new Float64Array(this.buckets);
    this.tMax = new Float64Array(this.buckets);
    this.sum = new Float64Array(this.buckets);
    this.count = new Uint32Array(this.buckets);
  }

  /** A value at second t (1 … duration: second t covers (t − 1, t]). */
  add(t: number, v: number): void {
    const b = Math.min(this.buckets - 1, Math.max(0, Math.floor((t - 1) / this.bucketSeconds)));
    if (v < this.min[b]) {
      this.min[b] = v;
      this.tMin[b] = t;
    }
    if (v > this.max[b]) {
      this.max[b] = v;
      this.tMax[b] = t;
    }
    this.sum[b] += v;
    this.count[b]++;
  }

  /** Each bucket's min and max in the order they happened (one point when they coincide): spikes stay visible. */
  envelope(): [number, number][] {
    const out: [number, number][] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (this.count[b] === 0) continue;
      const lo: [number, number] = [this.tMin[b], this.min[b]];
      const hi: [number, number] = [this.tMax[b], this.max[b]];
      const pair = lo[0] <= hi[0] ? [lo, hi] : [hi, lo];
      for (const p of pair) if (out.length === 0 || out[out.length - 1][0] !== p[0]) out.push(p);
    }
    return out;
  }

  /** Each bucket's mean, at the bucket's end. */
  means(): [number, number][] {
    const out: [number, number][] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (this.count[b] > 0) out.push([Math.min(this.durationS, (b + 1) * this.bucketSeconds), this.sum[b] / this.count[b]]);
    }
    return out;
  }

  /** Each bucket's [end, min, max]: the range a mean line stands for. */
  spans(): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (this.count[b] > 0) out.push([Math.min(this.durationS, (b + 1) * this.bucketSeconds), this.min[b], this.max[b]]);
    }
    return out;
  }

  /** Time ranges of the buckets where the value was ever above 0, merged: [from, to] in seconds. */
  ranges(): [number, number][] {
    const out: [number, number][] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (!(this.count[b] > 0 && this.max[b] > 0)) continue;
      const from = this.bucketSeconds === 1 ? this.tMax[b] - 1 : b * this.bucketSeconds;
      const to = Math.min(this.durationS, (b + 1) * this.bucketSeconds);
      const last = out[out.length - 1];
      if (last && last[1] >= from) last[1] = to;
      else out.push([from, to]);
    }
    return out;
  }

  /** The largest value and the second it happened at (the earliest such); null when empty. */
  peak(): [number, number] | null {
    let best: [number, number] | null = null;
    for (let b = 0; b < this.buckets; b++) if (this.count[b] > 0 && (best === null || this.max[b] > best[1])) best = [this.tMax[b], this.max[b]];
    return best;
  }

  get total(): number {
    let s = 0;
    for (let b = 0; b < this.buckets; b++) s += this.sum[b];
    return s;
  }
}

/**
 * A coarse log histogram (5 % buckets from 0.1 ms) for one latency interval,
 * reset after each: a fixed 400 counters whatever the run's length.
 */
export class IntervalHistogram {
  private static readonly MIN = 0.1;
  private static readonly LOG_GROWTH = Math.log(1.05);
  private readonly counts = new Uint32Array(400);
  private lo = Infinity;
  private hi = -1;
  count = 0;
  max = 0;

  record(v: number): void {
    const i = v <= IntervalHistogram.MIN ? 0
      : Math.min(this.counts.length - 1, 1 + Math.floor(Math.log(v / IntervalHistogram.MIN) / IntervalHistogram.LOG_GROWTH));
    this.counts[i]++;
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
    this.count++;
    if (v > this.max) this.max = v;
  }

  /** The q-quantile, within 5 % (the geometric middle of its bucket, at most the max seen); 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = this.lo; i <= this.hi; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        if (i === this.counts.length - 1) return this.max; // the last bucket holds everything beyond: its values are unbounded
        return Math.min(this.max, i === 0 ? IntervalHistogram.MIN : IntervalHistogram.MIN * 1.05 ** (i - 0.5));
      }
    }
    return this.max;
  }

  reset(): void {
    if (this.hi >= 0) this.counts.fill(0, this.lo, this.hi + 1);
    this.lo = Infinity;
    this.hi = -1;
    this.count = 0;
    this.max = 0;
  }
}

/** What the charts keep of one revision under one policy. */
export class RunSeries {
  readonly arrivals: BucketSeries;
  readonly inFlight: BucketSeries;
  readonly ready: BucketSeries;
  readonly desired: BucketSeries;
  readonly activatorQueue: BucketSeries;
  readonly panic: BucketSeries;
  readonly failed: BucketSeries;
  readonly rejected: BucketSeries;
  /** p99 latency of the requests completed in each 10 s interval, at the interval's end. */
  readonly p99: BucketSeries;
  private readonly interval = new IntervalHistogram();

  constructor(readonly revision: string, readonly policy: string, private readonly durationS: number) {
    const bucket = chartBucketSeconds(durationS);
    const make = () => new BucketSeries(durationS, bucket);
    this.arrivals = make();
    this.inFlight = make();
    this.ready = make();
    this.desired = make();
    this.activatorQueue = make();
    this.panic = make();
    this.failed = make();
    this.rejected = make();
    this.p99 = new BucketSeries(durationS, Math.ceil(bucket / LATENCY_INTERVAL_S) * LATENCY_INTERVAL_S);
  }

  add(row: TimeseriesRow, extras?: SecondExtras): void {
    const t = row.t;
    this.arrivals.add(t, row.arrivals);
    this.inFlight.add(t, row.inFlight);
    this.ready.add(t, row.readyPods);
    this.desired.add(t, row.desiredPods);
    this.activatorQueue.add(t, row.activatorQueue);
    this.panic.add(t, row.panic ? 1 : 0);
    if (!extras) return;
    this.failed.add(t, extras.failed);
    this.rejected.add(t, extras.rejected);
    for (const v of extras.latenciesMs) this.interval.record(v);
    if (t % LATENCY_INTERVAL_S === 0 || t === this.durationS) {
      if (this.interval.count > 0) this.p99.add(t, this.interval.quantile(0.99));
      this.interval.reset();
    }
  }
}

/** The chart bucket for a run of this length: ⌈duration / 2000⌉ seconds. */
export function chartBucketSeconds(durationS: number): number {
  return Math.max(1, Math.ceil(durationS / CHART_BUCKETS));
}

/** The chart series of every revision × policy of a run, in bounded memory (fed from onSecond). */
export class SeriesCollector {
  readonly byRun = new Map<string, RunSeries>();

  constructor(readonly durationS: number) {}

  add(row: TimeseriesRow, extras?: SecondExtras): void {
    const id = `${row.revision}\u0000${row.policy}`;
    let s = this.byRun.get(id);
    if (!s) this.byRun.set(id, (s = new RunSeries(row.revision, row.policy, this.durationS)));
    s.add(row, extras);
  }

  get(revision: string, policy: string): RunSeries | undefined {
    return this.byRun.get(`${revision}\u0000${policy}`);
  }
}
