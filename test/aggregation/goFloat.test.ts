import { describe, expect, it } from 'vitest';
import { frexp, goPowWhole, ldexp } from '../../src/aggregation/goFloat.js';
import { smoothingCoefficient } from '../../src/aggregation/weightedBuckets.js';

// Values printed by Go 1.19 (amd64): math.Pow(1-c, k) with c = computeSmoothingCoeff(nb).
describe("Go's float64 arithmetic for the weighted window", () => {
  it.each([
    { nb: 4, k: 4, want: 0.0000999999999999999 },
    { nb: 6, k: 6, want: 0.00010000000000000022 },
    { nb: 7, k: 4, want: 0.005179474679231212 },
    { nb: 7, k: 5, want: 0.0013894954943731378 },
  ])('math.Pow(1 − c(%s), $k) bit for bit', ({ nb, k, want }) => {
    const x = 1 - smoothingCoefficient(nb);
    expect(goPowWhole(x, k)).toBe(want);
    expect(Math.pow(x, k)).not.toBe(want); // V8 rounds differently: the reason for the port
  });

  it("computeSmoothingCoeff as Go computes it, then the 0.2 floor from 42 buckets", () => {
    expect(smoothingCoefficient(6)).toBe(0.7845565309968116);
    expect(smoothingCoefficient(41)).toBe(0.20119821919842973);
    expect(smoothingCoefficient(42)).toBe(0.2);
    expect(smoothingCoefficient(3600)).toBe(0.2);
  });

  it('frexp and ldexp round-trip, subnormals included', () => {
    for (const x of [1, 0.5, 0.75, 3, 1e-300, 5e-324, 1.7976931348623157e308, -2.5]) {
      const [frac, exp] = frexp(x);
      expect(Math.abs(frac)).toBeGreaterThanOrEqual(0.5);
      expect(Math.abs(frac)).toBeLessThan(1);
      expect(ldexp(frac, exp)).toBe(x);
    }
    expect(ldexp(0.5, -1080)).toBe(0);
  });
});
