/**
 * Go's float64 arithmetic where it differs from V8's in the last bits, so the
 * weighted-exponential window gives Knative's exact numbers.
 */

const view = new DataView(new ArrayBuffer(8));

/** Go's math.Frexp for a finite, non-zero x: x = frac × 2^exp with |frac| in [0.5, 1). */
export function frexp(x: number): [number, number] {
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const biased = (hi >>> 20) & 0x7ff;
  if (biased === 0) {
    // Subnormal: normalize first, as Go does.
    const [frac, exp] = frexp(x * 2 ** 52);
    return [frac, exp - 52];
  }
  view.setUint32(0, (hi & 0x800fffff) | (1022 << 20));
  return [view.getFloat64(0), biased - 1022];
}

/** Go's math.Ldexp: frac × 2^exp, with a single rounding where the result is subnormal. */
export function ldexp(frac: number, exp: number): number {
  if (frac === 0 || !Number.isFinite(frac)) return frac;
  const [m, e] = frexp(frac);
  const total = e + exp;
  if (total < -1074) return 0 * Math.sign(frac);
  if (total > 1024) return Math.sign(frac) * Infinity;
  // m × 2^total, scaled in two exact steps and one rounding step as Go's denormal path.
  if (total < -1021) return m * 2 ** (total + 53) * 2 ** -53;
  return m * 2 * 2 ** (total - 1); // 2^1024 itself is not a float64
}

/**
 * Go's math.Pow(x, y) for a finite x > 0 and a whole y ≥ 0: repeated squaring
 * of Frexp's mantissa with the exponents kept apart, then Ldexp (V8's
 * Math.pow rounds differently).
 */
export function goPowWhole(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (y === 1) return x;
  let a1 = 1;
  let ae = 0;
  let [x1, xe] = frexp(x);
  for (let i = y; i !== 0; i = Math.floor(i / 2)) {
    if (xe < -(1 << 12) || 1 << 12 < xe) {
      // Go: catastrophic overflow or underflow; the result is 0 or ±Inf.
      ae += xe;
      break;
    }
    if (i % 2 === 1) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe *= 2;
    if (x1 < 0.5) {
      x1 += x1;
      xe--;
    }
  }
  return ldexp(a1, ae);
}
