import type { Random } from './random.js';

/** Request rate over time (req/s), as written in a scenario. */
export type RateSpec =
  | { constant: { rate: number } }
  | { step: { from: number; to: number; at: number } }
  | { ramp: { from: number; to: number; start: number; end: number } }
  | { sine: { mean: number; amplitude: number; period: number; phase?: number } }
  | { spikes: { base: number; peak: number; every: number; duration: number; start?: number } }
  | { onOff: { rate: number; on: number; off: number } }
  | { sum: RateSpec[] }
  /** A formula of t (`rate: "50 + 30*sin(2*pi*t/86400)"`), evaluated when the scenario is read: the rate of each second. */
  | { formula: { expression: string; perSecond: Float64Array } };

/** Where requests come from: a rate (Poisson arrivals) or a recorded trace. */
export type WorkloadSpec = RateSpec | { trace: { timestamps: number[] } };

/** The rate at second t. */
export function rateAt(spec: RateSpec, t: number): number {
  if ('constant' in spec) return spec.constant.rate;
  if ('step' in spec) return t < spec.step.at ? spec.step.from : spec.step.to;
  if ('ramp' in spec) {
    const { from, to, start, end } = spec.ramp;
    if (t <= start) return from;
    if (t >= end) return to;
    return from + ((to - from) * (t - start)) / (end - start);
  }
  if ('sine' in spec) {
    const { mean, amplitude, period, phase = 0 } = spec.sine;
    return Math.max(0, mean + amplitude * Math.sin((2 * Math.PI * (t - phase)) / period));
  }
  if ('spikes' in spec) {
    const { base, peak, every, duration, start = 0 } = spec.spikes;
    return t >= start && (t - start) % every < duration ? peak : base;
  }
  if ('onOff' in spec) {
    const { rate, on, off } = spec.onOff;
    return t % (on + off) < on ? rate : 0;
  }
  if ('formula' in spec) {
    const { perSecond } = spec.formula;
    return perSecond.length === 0 ? 0 : perSecond[Math.min(perSecond.length - 1, Math.max(0, Math.floor(t)))];
  }
  return spec.sum.reduce((total, part) => total + rateAt(part, t), 0);
}

/** The next arrival time, in order; Infinity when there are no more. */
export interface ArrivalSource {
  next(): number;
}

/**
 * A Poisson process whose rate is constant within each second (the rate at
 * the middle of the second): exact for that piecewise-constant rate, since
 * exponential gaps are memoryless — a gap that crosses a second boundary is
 * drawn again from the boundary at the new rate.
 */
export function poissonArrivals(spec: RateSpec, duration: number, rng: Random): ArrivalSource {
  let t = 0;
  let second = 0;
  let rate = rateAt(spec, 0.5);
  return {
    next(): number {
      for (;;) {
        if (second >= duration) return Infinity;
        const gap = rate > 0 ? rng.exponential(1 / rate) : Infinity;
        if (t + gap < second + 1) {
          t += gap;
          return t;
        }
        second++;
        t = second;
        rate = rateAt(spec, second + 0.5);
      }
    },
  };
}

export function traceArrivals(timestamps: readonly number[], duration: number): ArrivalSource {
  let i = 0;
  return { next: () => (i < timestamps.length && timestamps[i] < duration ? timestamps[i++] : Infinity) };
}

export function arrivals(spec: WorkloadSpec, duration: number, rng: Random): ArrivalSource {
  return 'trace' in spec ? traceArrivals(spec.trace.timestamps, duration) : poissonArrivals(spec, duration, rng);
}
