import { describe, expect, it } from 'vitest';
import { parseGoFloat } from '../../src/config/goParse.js';

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
