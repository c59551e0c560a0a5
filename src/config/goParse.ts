/**
 * String parsers that accept exactly what Go's strconv and time.ParseDuration
 * accept, because Knative parses `config-autoscaler` and the autoscaling
 * annotations with them: a value Knative takes must be taken here, and a value
 * it rejects must be rejected here. Each returns `undefined` on a bad value.
 */

const DECIMAL_FLOAT = /^[+-]?(?:\d+(?:_\d+)*\.?(?:\d+(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]((?:_?[0-9a-fA-F])*)\.?((?:[0-9a-fA-F]_?)*)[pP]([+-]?\d+(?:_\d+)*)$/;
const SPECIAL_FLOAT = /^[+-]?(?:inf|infinity|nan)$/i;

/** strconv.ParseFloat(s, 64): decimal, hex (with p exponent), inf/infinity/nan; overflow is an error. */
export function parseGoFloat(s: string): number | undefined {
  if (s.includes('_') && !underscoresBetweenDigits(s)) return undefined;
  if (SPECIAL_FLOAT.test(s)) {
    const lower = s.toLowerCase();
    if (lower.endsWith('nan')) return lower === 'nan' ? NaN : undefined; // Go accepts no sign on NaN
    return lower.startsWith('-') ? -Infinity : Infinity;
  }
  let value: number;
  const hex = HEX_FLOAT.exec(s);
  if (hex) {
    const [, sign, intPart, fracPart, exp] = hex;
    const mantissaDigits = (intPart + fracPart).replace(/_/g, '');
    if (mantissaDigits === '') return undefined;
    const mantissa = Number.parseInt(mantissaDigits, 16);
    const fracBits = fracPart.replace(/_/g, '').length * 4;
    value = mantissa * 2 ** (Number(exp.replace(/_/g, '')) - fracBits);
    if (sign === '-') value = -value;
  } else {
    if (!DECIMAL_FLOAT.test(s)) return undefined;
    value = Number(s.replace(/_/g, ''));
  }
  if (!Number.isFinite(value)) return undefined; // ErrRange
  return value;
}

/**
 * Go's rule for digit separators in number literals (strconv's underscoreOK):
 * an underscore only between two digits, or between a base prefix and a digit.
 */
function underscoresBetweenDigits(literal: string): boolean {
  let s = literal.replace(/^[+-]/, '');
  let last: 'start' | 'digit' | 'underscore' | 'other' = 'start';
  let hex = false;
  if (/^0[bBoOxX]/.test(s)) {
    hex = /^0[xX]/.test(s);
    s = s.slice(2);
    last = 'digit'; // the prefix counts as a digit
  }
  for (const c of s) {
    if (/[0-9]/.test(c) || (hex && /[a-fA-F]/.test(c))) last = 'digit';
    else if (c === '_') {
      if (last !== 'digit') return false;
      last = 'underscore';
    } else {
      if (last === 'underscore') return false;
      last = 'other';
    }
  }
  return last !== 'underscore';
}

/** strconv.ParseInt(s, 10, bits). */
export function parseGoInt(s: string, bits: 32 | 64 = 32): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const v = BigInt(s);
  const limit = 1n << BigInt(bits - 1);
  if (v < -limit || v >= limit) return undefined;
  return Number(v);
}

/** strconv.Atoi: a 64-bit int on the platforms Knative runs on. */
export function parseGoAtoi(s: string): number | undefined {
  return parseGoInt(s, 64);
}

const GO_BOOLS: Record<string, boolean> = {
  '1': true, t: true, T: true, TRUE: true, true: true, True: true,
  '0': false, f: false, F: false, FALSE: false, false: false, False: false,
};

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  return Object.prototype.hasOwnProperty.call(GO_BOOLS, s) ? GO_BOOLS[s] : undefined;
}

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_DURATION = (1n << 63n) - 1n;
const DURATION_PART = /^(\d*)(?:\.(\d*))?([^\d.]+)/;

/**
 * time.ParseDuration, in whole nanoseconds (a bigint, as Go's int64).
 * "300ms", "-1.5h", "2h45m"; a bare "0" is the only unit-less value.
 */
export function parseGoDurationNanos(input: string): bigint | undefined {
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  while (s !== '') {
    const m = DURATION_PART.exec(s);
    if (!m) return undefined;
    const [whole, intDigits, fracDigits, unitText] = m;
    if (intDigits === '' && (fracDigits === undefined || fracDigits === '')) return undefined;
    // The unit runs up to the next digit or dot.
    const unit = UNIT_NANOS[unitText];
    if (unit === undefined) return undefined;
    let part = (intDigits === '' ? 0n : BigInt(intDigits)) * unit;
    if (fracDigits) part += goFractionNanos(fracDigits, unit);
    total += part;
    if (total > MAX_DURATION + (negative ? 1n : 0n)) return undefined;
    s = s.slice(whole.length);
  }
  return negative ? -total : total;
}

/**
 * time.ParseDuration's fraction: its digits as an integer (those past uint64
 * overflow ignored) and a float64 scale, then `uint64(float64(f) *
 * (float64(unit) / scale))`: in floating point, as Go does, not exactly.
 */
function goFractionNanos(digits: string, unit: bigint): bigint {
  const limit = 1n << 63n;
  let f = 0n;
  let scale = 1;
  for (const c of digits) {
    if (f > (limit - 1n) / 10n) break; // Go: overflow, the remaining digits are ignored
    const next = f * 10n + BigInt(c);
    if (next > limit) break;
    f = next;
    scale *= 10;
  }
  return BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
}

export const NANOS_PER_SECOND = 1_000_000_000n;

/** Formats nanoseconds the way Go's Duration.String does ("1m0s", "500ms", "6s"), for messages. */
export function formatGoDuration(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const neg = nanos < 0n;
  let u = neg ? -nanos : nanos;
  let out: string;
  if (u < NANOS_PER_SECOND) {
    const [div, unit] = u < 1_000n ? [1n, 'ns'] : u < 1_000_000n ? [1_000n, 'µs'] : [1_000_000n, 'ms'];
    out = fixedFraction(u, div) + unit;
  } else {
    const h = u / 3_600_000_000_000n;
    u -= h * 3_600_000_000_000n;
    const m = u / 60_000_000_000n;
    u -= m * 60_000_000_000n;
    out = `${fixedFraction(u, NANOS_PER_SECOND)}s`;
    if (h > 0n) out = `${h}h${m}m${out}`;
    else if (m > 0n) out = `${m}m${out}`;
  }
  return neg ? `-${out}` : out;
}

function fixedFraction(v: bigint, div: bigint): string {
  const whole = v / div;
  const frac = v % div;
  if (frac === 0n) return whole.toString();
  const digits = div.toString().length - 1;
  return `${whole}.${frac.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}
