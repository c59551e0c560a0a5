import type { Random } from './random.js';

/** A duration distribution in seconds, as written in a scenario. */
export type DistributionSpec =
  | { constant: number }
  | { exponential: { mean: number } }
  | { lognormal: { mean: number; p99: number } }
  | { empirical: number[] }
  /**
   * [percent, seconds] pairs from 0 to 100, values not decreasing: the
   * quantile function is piecewise linear between them (e.g. the Azure 2019
   * durations file's percentiles 0, 1, 25, 50, 75, 99, 100).
   */
  | { percentiles: Array<[number, number]> };

/** z for the 99th percentile of the standard normal. */
const Z99 = 2.3263478740408408;

export type Sampler = (rng: Random) => number;

/**
 * A sampler for a validated spec. The lognormal is given by its mean and p99,
 * the figures people know about their latency: with m = ln(mean) and
 * q = ln(p99), σ solves σ²/2 − z·σ + (q − m) = 0 (the smaller root) and
 * μ = m − σ²/2.
 */
export function sampler(spec: DistributionSpec): Sampler {
  if ('constant' in spec) {
    const v = spec.constant;
    return () => v;
  }
  if ('exponential' in spec) {
    const mean = spec.exponential.mean;
    return (rng) => rng.exponential(mean);
  }
  if ('lognormal' in spec) {
    const { mu, sigma } = lognormalParameters(spec.lognormal.mean, spec.lognormal.p99);
    return (rng) => Math.exp(mu + sigma * rng.normal());
  }
  if ('percentiles' in spec) return percentileSampler(spec.percentiles);
  const values = spec.empirical;
  return (rng) => values[Math.floor(rng.next() * values.length)];
}

/** Inverse-transform sampling: u uniform in [0, 100), then linear interpolation between the percentiles around it. */
function percentileSampler(points: ReadonlyArray<readonly [number, number]>): Sampler {
  const ps = points.map(([p]) => p);
  const vs = points.map(([, v]) => v);
  return (rng) => {
    const u = rng.next() * 100;
    let i = 1;
    while (i < ps.length - 1 && ps[i] <= u) i++;
    const width = ps[i] - ps[i - 1];
    return width > 0 ? vs[i - 1] + ((vs[i] - vs[i - 1]) * (u - ps[i - 1])) / width : vs[i];
  };
}

export function lognormalParameters(mean: number, p99: number): { mu: number; sigma: number } {
  const gap = Math.log(p99) - Math.log(mean);
  const disc = Z99 * Z99 - 2 * gap;
  if (!(gap > 0) || disc < 0) throw new RangeError(`no lognormal has mean ${mean} and p99 ${p99} (p99 must be above the mean and below mean × ${Math.exp(Z99 * Z99 / 2).toFixed(1)})`);
  const sigma = Z99 - Math.sqrt(disc);
  return { mu: Math.log(mean) - (sigma * sigma) / 2, sigma };
}

/** The mean of a distribution (for reports and sanity checks). */
export function meanOf(spec: DistributionSpec): number {
  if ('constant' in spec) return spec.constant;
  if ('exponential' in spec) return spec.exponential.mean;
  if ('lognormal' in spec) return spec.lognormal.mean;
  if ('percentiles' in spec) {
    // The integral of the piecewise linear quantile function: trapezoids.
    let mean = 0;
    for (let i = 1; i < spec.percentiles.length; i++) {
      const [p0, v0] = spec.percentiles[i - 1];
      const [p1, v1] = spec.percentiles[i];
      mean += ((p1 - p0) / 100) * ((v0 + v1) / 2);
    }
    return mean;
  }
  return spec.empirical.reduce((a, b) => a + b, 0) / spec.empirical.length;
}
