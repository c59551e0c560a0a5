import { describe, expect, it } from 'vitest';
import { smoothingCoefficient, WeightedBuckets } from '../../src/aggregation/weightedBuckets.js';

describe('smoothingCoefficient (Knative computeSmoothingCoeff)', () => {
  it.each([
    { buckets: 30, expected: 1 - Math.pow(0.0001, 1 / 30) },
    { buckets: 60, expected: 0.2 },
    { buckets: 6, expected: 1 - Math.pow(0.0001, 1 / 6) },
    // Large windows are floored at 0.2 so they do not degrade into a plain average.
    { buckets: 3600, expected: 0.2 },
    { buckets: 1, expected: 0.9999 },
  ])('$buckets buckets → $expected', ({ buckets, expected }) => {
    expect(smoothingCoefficient(buckets)).toBeCloseTo(expected, 12);
  });
});

describe('WeightedBuckets (weighted-exponential window average)', () => {
  it('weighs the newest bucket most', () => {
    const a = new WeightedBuckets(10);
    a.record(10, 0);
    a.record(11, 10);
    const b = new WeightedBuckets(10);
    b.record(10, 10);
    b.record(11, 0);
    expect(a.windowAverage(11)).toBeGreaterThan(b.windowAverage(11));
  });

  it('a single bucket contributes value × coefficient', () => {
    const w = new WeightedBuckets(10);
    w.record(10, 50);
    expect(w.windowAverage(10)).toBeCloseTo(50 * smoothingCoefficient(10), 12);
  });

  it('silent seconds since the last write decay the average', () => {
    const w = new WeightedBuckets(10);
    w.record(10, 50);
    const alpha = smoothingCoefficient(10);
    expect(w.windowAverage(12)).toBeCloseTo(50 * alpha * (1 - alpha) ** 2, 12);
  });

  it('is zero once a full window has passed without writes', () => {
    const w = new WeightedBuckets(6);
    w.record(10, 50);
    expect(w.windowAverage(17)).toBe(0);
    expect(w.isEmpty(17)).toBe(true);
  });

  it('a full window of a constant is that constant within Knative’s weight precision', () => {
    const w = new WeightedBuckets(6);
    for (let t = 0; t < 6; t++) w.record(t, 7);
    expect(w.windowAverage(5)).toBeCloseTo(7 * 0.9999, 9);
    const floored = new WeightedBuckets(60); // coefficient floored at 0.2: weights sum to 1 − 0.8^60
    for (let t = 0; t < 60; t++) floored.record(t, 7);
    expect(floored.windowAverage(59)).toBeCloseTo(7 * (1 - 0.8 ** 60), 9);
  });

  it('resizing recomputes the coefficient and keeps the data', () => {
    const w = new WeightedBuckets(60);
    w.record(10, 50);
    w.resizeWindow(6, 10);
    expect(w.windowAverage(10)).toBeCloseTo(50 * smoothingCoefficient(6), 12);
  });
});
