import { goPowWhole } from './goFloat.js';
import { bucketAt, lastWriteBucket, STATE_SLOTS, TimedBuckets, windowIsEmpty } from './timedBuckets.js';

/** The smallest decay multiplier, so that huge windows do not degrade to a plain average. */
const MIN_EXPONENT = 0.2;
/**
 * The weights of the buckets in a window add up to at least 0.9999: Knative's
 * `1 - weightPrecision` is Go constant arithmetic, exactly 0.0001.
 */
const ONE_MINUS_WEIGHT_PRECISION = 0.0001;

/**
 * Knative's coefficients for windows of 1..41 buckets, as Go's math.Pow
 * computes 1 − 0.0001^(1/n) (V8's Math.pow differs in the last bit for some
 * n, which can flip a decision at a threshold). From 42 buckets on the
 * coefficient is MIN_EXPONENT.
 */
const GO_SMOOTHING_COEFFICIENTS = [
  0.9999, 0.99, 0.9535841116638721, 0.9, 0.8415106807538886, 0.7845565309968116, 0.7317304204720274, 0.683772233983162,
  0.6406186336195372, 0.6018928294465027, 0.5671238718916941, 0.535841116638722, 0.507611736829326, 0.4820525320768788,
  0.45883047345353634, 0.4376586748096509, 0.41829086706256413, 0.40051574968105896, 0.3841517889339736, 0.36904265551980675,
  0.3550533228962376, 0.342066775342432, 0.3299812496490411, 0.31870793094203875, 0.3081690290810636, 0.29829617132961717,
  0.28902905676875645, 0.28031432699884795, 0.27210461560168486, 0.2643577455403586, 0.25703604924050527, 0.2501057906675441,
  0.24353667244537114, 0.23730141409765548, 0.231375389960226, 0.2257363173188729, 0.22036398695947668, 0.21524002964853872,
  0.21034771315002732, 0.2056717652757185, 0.20119821919842973,
];

/** The decay per bucket for a window of `buckets` buckets (Knative's computeSmoothingCoeff). */
export function smoothingCoefficient(buckets: number): number {
  const exact = Number.isInteger(buckets) ? GO_SMOOTHING_COEFFICIENTS[buckets - 1] : undefined;
  return exact ?? Math.max(1 - Math.pow(ONE_MINUS_WEIGHT_PRECISION, 1 / buckets), MIN_EXPONENT);
}

/**
 * The weights of a window average per bucket count, shared by every window of
 * that size: at `gap`, the first weight `gap` buckets after the last write,
 * coefficient × Go's math.Pow(1 − coefficient, gap) (NaN until computed: its
 * bit-exact Pow is otherwise the dearest part of a tick); at `count + 1`, the
 * decay per bucket, 1 − coefficient. In one table a window reads both from a
 * line that every window of its size keeps in cache.
 */
const weightTables = new Map<number, Float64Array>();

/** The weight table for a window of `count` buckets. */
export function weightsFor(count: number): Float64Array {
  let weights = weightTables.get(count);
  if (weights === undefined) {
    // A gap is at most the bucket count (a longer one is an empty window).
    weights = new Float64Array(count + 2).fill(NaN);
    weights[count + 1] = 1 - smoothingCoefficient(count);
    weightTables.set(count, weights);
  }
  return weights;
}

function computeFirstWeight(weights: Float64Array, gap: number): number {
  const smoothing = smoothingCoefficient(weights.length - 2);
  const w = gap === 0 ? smoothing : smoothing * goPowWhole(1 - smoothing, gap);
  weights[gap] = w;
  return w;
}

/**
 * The weighted-exponential window average (Knative's
 * WeightedFloat64Buckets.WindowAverage) of the window at `state` in `states`
 * and `ring` in `rings` (see timedBuckets.ts), with `weights` its size's
 * table: the newest bucket weighs most, each older one (1 − coefficient) times
 * less. Seconds without data count as zero.
 */
export function weightedAverage(
  states: number[], state: number, rings: number[], ring: number, count: number, lastIndex: number, weights: Float64Array,
  now: number,
): number {
  if (windowIsEmpty(states, state, now)) return 0;
  // The silent buckets since the last write weigh in as zeros: the walk starts that far down the weights.
  const gap = bucketAt(states, state, now) - lastWriteBucket(states, state);
  const zeros = gap > 0 ? gap : 0;
  const decay = weights[count + 1];
  let multiplier = weights[zeros];
  if (multiplier !== multiplier) multiplier = computeFirstWeight(weights, zeros);
  // Knative's loop, in its order of roundings: newest bucket first, the
  // multiplier decayed after each. In two runs, from the newest bucket down
  // to the ring's start and then down from its end, with no wrap in either.
  const buckets = count - zeros;
  const newest = ring + lastIndex;
  const firstRun = buckets < lastIndex + 1 ? buckets : lastIndex + 1;
  let sum = 0;
  for (let at = newest, end = newest - firstRun; at > end; at--) {
    sum += rings[at] * multiplier;
    multiplier *= decay;
  }
  for (let at = ring + count - 1, end = at - (buckets - firstRun); at > end; at--) {
    sum += rings[at] * multiplier;
    multiplier *= decay;
  }
  return sum;
}

/** Time buckets with a weighted-exponential window average, a window with a store of its own. */
export class WeightedBuckets extends TimedBuckets {
  /** The shared weights of this window's size. */
  private weights: Float64Array;

  constructor(windowSeconds: number, granularitySeconds = 1) {
    super(windowSeconds, granularitySeconds);
    this.weights = weightsFor(this.count);
  }

  override windowAverage(now: number): number {
    return weightedAverage(this.store, 0, this.store, STATE_SLOTS, this.count, this.lastIndex, this.weights, now);
  }

  override resizeWindow(windowSeconds: number, now: number): void {
    super.resizeWindow(windowSeconds, now);
    this.weights = weightsFor(this.count);
  }
}
