/**
 * Statistics over repeated runs (`--seeds N`): the mean of N per-run figures
 * and its 95 % confidence interval from Student's t distribution with N − 1
 * degrees of freedom (mean ± t₀.₉₇₅,ₙ₋₁ · s/√N, s the sample standard deviation).
 * One run has no spread to estimate: its interval is the value itself.
 */

/** t₀.₉₇₅ for 1 … 30 degrees of freedom (index = df). */
const T975 = [NaN, 12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448,
  2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423];
/** Beyond 30, interpolated linearly in 1/df between these (df = ∞: the normal 1.96). */
const T975_TAIL: [number, number][] = [[30, 2.0423], [40, 2.0211], [60, 2.0003], [120, 1.9799], [Infinity, 1.96]];

/** The 97.5 % quantile of Student's t with `df` degrees of freedom (two-sided 95 %). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`degrees of freedom must be ≥ 1, got ${df}`);
  const whole = Math.floor(df);
  if (whole <= 30) return T975[whole];
  for (let i = 1; i < T975_TAIL.length; i++) {
    const [d0, t0] = T975_TAIL[i - 1];
    const [d1, t1] = T975_TAIL[i];
    if (whole <= d1) {
      const w = (1 / d0 - 1 / whole) / (1 / d0 - 1 / d1);
      return t0 + w * (t1 - t0);
    }
  }
  return 1.96;
}

/** The mean of N runs' figures and its 95 % confidence interval. */
export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (N − 1 in the denominator); 0 for one run. */
  sd: number;
  /** Half the interval's width: t · sd / √N (0 for one run). */
  halfWidth: number;
  low: number;
  high: number;
}

const round = (x: number): number => Number(x.toFixed(3));

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) throw new RangeError('no values to summarize');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const halfWidth = n < 2 ? 0 : (tQuantile975(n - 1) * sd) / Math.sqrt(n);
  return { n, mean: round(mean), sd: round(sd), halfWidth: round(halfWidth), low: round(mean - halfWidth), high: round(mean + halfWidth) };
}

/** "12.3 ± 0.4" (or the plain mean for one run). */
export function formatSummary(s: Summary): string {
  const v = (x: number) => String(Number(x.toPrecision(4)));
  return s.n < 2 ? v(s.mean) : `${v(s.mean)} ± ${v(s.halfWidth)}`;
}
