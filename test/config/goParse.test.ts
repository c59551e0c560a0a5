import { describe, expect, it } from 'vitest';
import { parseGoDurationNanos, parseGoFloat } from '../../src/config/goParse.js';

// strconv.ParseFloat(s, 64), as Knative parses every float key and annotation (Go's literal rules, underscores included).
describe('parseGoFloat', () => {
  it.each([
    ['1_000', 1000], ['1_0.5', 10.5], ['1e1_0', 1e10], ['.5_0', 0.5], ['+7', 7], ['0x1p4', 16], ['0x1_0p0', 16], ['0x_1p0', 1],
    ['NaN', NaN], ['-Inf', -Infinity], ['1e-400', 0],
  ])('%s → %s', (text, want) => {
    expect(parseGoFloat(text)).toBe(want);
  });

  it.each(['1__0', '_1', '1_', '1_.5', '1._5', '1_e5', '0x1_p4', '0x1.8_p0', '', '1e', '0x1', '+NaN', '1e400'])('%s is not a float', (text) => {
    expect(parseGoFloat(text)).toBeUndefined();
  });
});

// time.ParseDuration: fractions are scaled in float64, as Go does.
describe('parseGoDurationNanos', () => {
  it.each([
    ['1.5s', 1_500_000_000n], ['0.3333333333333333333h', 1_200_000_000_000n], ['1h30m', 5_400_000_000_000n], ['.5ms', 500_000n],
    ['1.0000000000000000000000001s', 1_000_000_000n], ['-2m', -120_000_000_000n], ['0', 0n],
  ])('%s → %s ns', (text, want) => {
    expect(parseGoDurationNanos(text)).toBe(want);
  });

  it.each(['', '1', 's', '1.s.', '9223372036854775808ns', '1d'])('%s is not a duration', (text) => {
    expect(parseGoDurationNanos(text)).toBeUndefined();
  });
});
