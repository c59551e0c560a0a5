import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paretoFront, paretoFrontIntervals } from '../../src/sim/pareto.js';
import { formatSummary, summarize, tQuantile975 } from '../../src/sim/stats.js';

describe("Student's t", () => {
  it('has the textbook 97.5 % quantiles', () => {
    expect(tQuantile975(1)).toBeCloseTo(12.706, 3);
    expect(tQuantile975(2)).toBeCloseTo(4.303, 3);
    expect(tQuantile975(9)).toBeCloseTo(2.262, 3);
    expect(tQuantile975(30)).toBeCloseTo(2.042, 3);
    expect(tQuantile975(60)).toBeCloseTo(2.0, 3);
    expect(tQuantile975(1e9)).toBeCloseTo(1.96, 3);
    // Between the table's rows: within a thousandth of the exact 2.0086 (df 50).
    expect(Math.abs(tQuantile975(50) - 2.0086)).toBeLessThan(1e-3);
  });

  it('decreases towards the normal quantile', () => {
    for (let df = 1; df < 200; df++) expect(tQuantile975(df + 1)).toBeLessThanOrEqual(tQuantile975(df));
  });
});

describe('summarize', () => {
  it('gives mean ± t · s/√n', () => {
    const s = summarize([10, 12, 14]);
    expect(s.mean).toBe(12);
    expect(s.sd).toBe(2);
    expect(s.halfWidth).toBeCloseTo((4.3027 * 2) / Math.sqrt(3), 3);
    expect([s.low, s.high]).toEqual([Number((12 - s.halfWidth).toFixed(3)), Number((12 + s.halfWidth).toFixed(3))]);
    expect(formatSummary(s)).toBe('12 ± 4.968');
  });

  it('one run: the value itself, no interval', () => {
    expect(summarize([7])).toEqual({ n: 1, mean: 7, sd: 0, halfWidth: 0, low: 7, high: 7 });
    expect(formatSummary(summarize([7]))).toBe('7');
  });

  it('covers the true mean about 95 % of the time', () => {
    // Normal samples (Box–Muller from a fixed LCG): n = 5, 2000 trials.
    let x = 12345;
    const uniform = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) + 0.5) / 2 ** 32;
    const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    let covered = 0;
    const trials = 2000;
    for (let i = 0; i < trials; i++) {
      const s = summarize(Array.from({ length: 5 }, () => 100 + 10 * normal()));
      if (s.low <= 100 && 100 <= s.high) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.97);
  });
});

describe('the Pareto front with confidence intervals', () => {
  const pointWithIntervals = fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 5 }));

  it('zero-width intervals: exactly the plain Pareto front', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 30 }), (pts) => {
      expect(paretoFrontIntervals(pts.map(([x, y]) => [[x, x], [y, y]]))).toEqual(paretoFront(pts));
    }));
  });

  it("wider intervals only add points: the means' front is inside it, and a point leaves it only to one better beyond doubt", () => {
    fc.assert(fc.property(fc.array(pointWithIntervals, { minLength: 1, maxLength: 30 }), (pts) => {
      const intervals = pts.map(([x, dx, y, dy]) => [[x - dx, x + dx], [y - dy, y + dy]] as const);
      const front = paretoFrontIntervals(intervals);
      for (const i of paretoFront(pts.map(([x, , y]) => [x, y]))) expect(front.has(i)).toBe(true);
      intervals.forEach((q, i) => {
        if (front.has(i)) return;
        const by = intervals.some((p, j) => j !== i && p[0][1] <= q[0][0] && p[1][1] <= q[1][0] && (p[0][1] < q[0][0] || p[1][1] < q[1][0]));
        expect(by).toBe(true);
      });
      expect(front.size).toBeGreaterThan(0);
    }));
  });

  it('overlapping intervals keep both points', () => {
    // b's means are better on both axes, but its intervals overlap a's.
    expect([...paretoFrontIntervals([[[10, 14], [5, 9]], [[9, 11], [4, 6]]])]).toEqual([0, 1]);
    // Clearly separated: only the better one.
    expect([...paretoFrontIntervals([[[10, 14], [5, 9]], [[1, 2], [1, 2]]])]).toEqual([1]);
  });
});
