import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lognormalParameters, sampler } from '../../src/sim/distribution.js';
import { EventQueue } from '../../src/sim/eventQueue.js';
import { LogHistogram } from '../../src/sim/histogram.js';
import { Random } from '../../src/sim/random.js';

describe('EventQueue', () => {
  it('pops in time order, ties in insertion order', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
      const q = new EventQueue<number>();
      times.forEach((t, i) => q.push(t, i));
      const out: number[] = [];
      for (let v = q.pop(); v !== undefined; v = q.pop()) out.push(v);
      const expected = times.map((t, i) => [t, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
      expect(out).toEqual(expected);
    }));
  });
});

describe('Random', () => {
  it('is reproducible from its seed and uniform enough', () => {
    const a = new Random(42);
    const b = new Random(42);
    const xs = Array.from({ length: 10_000 }, () => a.next());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.49);
    expect(mean).toBeLessThan(0.51);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

describe('distributions', () => {
  it('lognormal by mean and p99 has that mean and p99', () => {
    const rng = new Random(7);
    const sample = sampler({ lognormal: { mean: 0.1, p99: 0.5 } });
    const xs = Array.from({ length: 200_000 }, () => sample(rng)).sort((a, b) => a - b);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeCloseTo(0.1, 2);
    expect(xs[Math.floor(0.99 * xs.length)]).toBeGreaterThan(0.47);
    expect(xs[Math.floor(0.99 * xs.length)]).toBeLessThan(0.53);
  });
  it('rejects impossible lognormals', () => {
    expect(() => lognormalParameters(1, 0.5)).toThrow(/p99 must be above the mean/);
  });
});

describe('LogHistogram', () => {
  it('quantiles within 1 % of the exact ones', () => {
    const rng = new Random(3);
    const h = new LogHistogram();
    const xs = Array.from({ length: 50_000 }, () => rng.exponential(100));
    xs.forEach((x) => h.record(x));
    xs.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = xs[Math.ceil(q * xs.length) - 1];
      expect(Math.abs(h.quantile(q) - exact) / exact).toBeLessThan(0.01);
    }
    expect(h.max).toBe(xs[xs.length - 1]);
  });
});
