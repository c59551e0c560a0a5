import { TimedBuckets } from './timedBuckets.js';

/** The smallest decay multiplier, so that huge windows do not degrade to a plain average. */
const MIN_EXPONENT = 0.2;
/** The weights of the buckets in a window add up to at least this. */
const WEIGHT_PRECISION = 0.9999;

/** The decay per bucket for a window of `buckets` buckets (Knative's computeSmoothingCoeff). */
export function smoothingCoefficient(buckets: number): number {
  return Math.max(1 - Math.pow(1 - WEIGHT_PRECISION, 1 / buckets), MIN_EXPONENT);
}

/**
 * Time buckets with a weighted-exponential window average (Knative's
 * WeightedFloat64Buckets): the newest bucket weighs most, each older one
 * (1 − coefficient) times less. Seconds without data count as zero.
 */
export class WeightedBuckets extends TimedBuckets {
  /** How fast older buckets lose weight; derived from the bucket count. */
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
      // The silent buckets since the last write weigh in as zeros.
      const zeros = nowBucket - this.lastWrite;
      multiplier *= Math.pow(decay, zeros);
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
