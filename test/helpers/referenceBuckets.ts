import { goPowWhole } from '../../src/aggregation/goFloat.js';
import { smoothingCoefficient } from '../../src/aggregation/weightedBuckets.js';

/**
 * Knative's TimedFloat64Buckets and WeightedFloat64Buckets ported the
 * straightforward way, line by line (a `%` per bucket, math.Pow on every
 * average): the reference that the optimised windows in src/aggregation must
 * match bit for bit. Only for times ≥ 0, as the collector sees them.
 */
const NEVER = -Infinity;

function roundTo6Digits(x: number): number {
  const scaled = x * 1e6;
  return (scaled < 0 ? -Math.round(-scaled) : Math.round(scaled)) / 1e6;
}

export class ReferenceTimedBuckets {
  buckets: Float64Array;
  readonly granularity: number;
  window: number;
  firstWrite = NEVER;
  lastWrite = NEVER;
  windowTotal = 0;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    this.granularity = granularitySeconds;
    this.window = windowSeconds;
    this.buckets = new Float64Array(Math.ceil(windowSeconds / granularitySeconds));
  }

  bucketOf(now: number): number {
    return Math.floor(now / this.granularity);
  }

  isEmpty(now: number): boolean {
    return (this.bucketOf(now) - this.lastWrite) * this.granularity > this.window;
  }

  windowAverage(now: number): number {
    const nowBucket = this.bucketOf(now);
    const gap = nowBucket - this.lastWrite;
    const length = this.buckets.length;
    if (gap <= 0) return roundTo6Digits(this.windowTotal / Math.min(this.lastWrite - this.firstWrite + 1, length));
    if (gap * this.granularity < this.window) {
      let total = this.windowTotal;
      for (let i = this.lastWrite + 1; i <= nowBucket; i++) total -= this.buckets[i % length];
      return roundTo6Digits(total / Math.min(this.lastWrite - this.firstWrite + 1, length - gap));
    }
    return 0;
  }

  record(now: number, value: number): void {
    const bucket = this.bucketOf(now);
    if (this.lastWrite !== bucket) {
      if ((bucket - this.lastWrite) * this.granularity <= -this.window) return;
      if (this.firstWrite === NEVER || this.firstWrite > bucket) this.firstWrite = bucket;
      if (bucket > this.lastWrite) {
        const length = this.buckets.length;
        if ((bucket - this.lastWrite) * this.granularity >= this.window) {
          this.firstWrite = bucket;
          this.buckets.fill(0);
          this.windowTotal = 0;
        } else {
          for (let i = this.lastWrite + 1; i <= bucket; i++) {
            this.windowTotal -= this.buckets[i % length];
            this.buckets[i % length] = 0;
          }
        }
        this.lastWrite = bucket;
      }
    }
    this.buckets[bucket % this.buckets.length] += value;
    this.windowTotal += value;
  }

  resizeWindow(windowSeconds: number, now: number): void {
    if (windowSeconds === this.window) return;
    const count = Math.ceil(windowSeconds / this.granularity);
    const resized = new Float64Array(count);
    let total = 0;
    if ((this.bucketOf(now) - this.lastWrite) * this.granularity <= this.window) {
      const oldCount = this.buckets.length;
      let b = this.lastWrite;
      for (let k = Math.min(count, oldCount); k > 0; k--, b--) {
        const v = this.buckets[((b % oldCount) + oldCount) % oldCount];
        resized[((b % count) + count) % count] = v;
        total += v;
      }
      this.firstWrite = this.lastWrite - (oldCount - 1);
    } else {
      this.firstWrite = NEVER;
    }
    this.window = windowSeconds;
    this.buckets = resized;
    this.windowTotal = total;
  }
}

export class ReferenceWeightedBuckets extends ReferenceTimedBuckets {
  private smoothing: number;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    super(windowSeconds, granularitySeconds);
    this.smoothing = smoothingCoefficient(Math.ceil(windowSeconds / granularitySeconds));
  }

  override windowAverage(now: number): number {
    if (this.isEmpty(now)) return 0;
    const nowBucket = this.bucketOf(now);
    const length = this.buckets.length;
    const decay = 1 - this.smoothing;
    let multiplier = this.smoothing;
    let count = length;
    if (nowBucket > this.lastWrite) {
      const zeros = nowBucket - this.lastWrite;
      multiplier *= goPowWhole(decay, zeros);
      count -= zeros;
    }
    const start = this.lastWrite + length;
    let sum = 0;
    for (let i = 0; i < count; i++) {
      sum += this.buckets[(start - i) % length] * multiplier;
      multiplier *= decay;
    }
    return sum;
  }

  override resizeWindow(windowSeconds: number, now: number): void {
    super.resizeWindow(windowSeconds, now);
    this.smoothing = smoothingCoefficient(Math.ceil(windowSeconds / this.granularity));
  }
}
