import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEventLine, type RecordingEvent } from '../../src/recording/events.js';
import { EventScanner } from '../../src/recording/eventScanner.js';
import { Recorder } from '../../src/recording/recorder.js';

/**
 * The scanner reads common lines from their bytes; for any line it accepts it
 * must give exactly what JSON.parse and the validation give, and it must
 * accept the lines the live service records (or it would be dead weight).
 */
const scanner = new EventScanner();

function scan(line: string): RecordingEvent | null {
  // Inside a larger buffer, as lines lie in a chunk of input.
  const buf = Buffer.from(`xx\n${line}\nyy`);
  return scanner.scan(buf, 3, buf.length - 3);
}

function slow(line: string): RecordingEvent | Error {
  try {
    return parseEventLine(line);
  } catch (err) {
    return err as Error;
  }
}

function agrees(line: string): boolean {
  const fast = scan(line);
  if (fast === null) return false;
  const reference = slow(line);
  if (reference instanceof Error) throw new Error(`the scanner accepted ${JSON.stringify(line)}, which parseEventLine rejects: ${reference.message}`);
  // toStrictEqual tells 0 from -0 and a missing field from an undefined one.
  expect(fast).toStrictEqual(reference);
  return true;
}

const numberTexts = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.integer({ min: -1e6, max: 1e6 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 999 })).map(([a, b]) => `${a}.${b}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -400, max: 400 })).map(([m, e]) => `${m}e${e}`),
  fc.constantFrom(
    '0', '-0', '-0.0', '0.1', '1e22', '1e23', '9007199254740991', '9007199254740993', '123456789012345678',
    '1.7976931348623157e308', '2e308', '5e-324', '1E+2', '1e-2', '0e999', '1700000000.25', '00', '01', '1.', '.5',
    '-', '1e', '1e+', '+1', '0x10', '1_0', 'NaN', 'Infinity', '-Infinity', '1.5e0001', '4.35',
  ),
);
const strings = fc.oneof(
  fc.constantFrom('bench', 'rev-001', 'service-scraper', 'default', 'a/b', '', ' ', 'é', 'x\\"y', 'tab\t', '\u2028'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const value = fc.oneof(
  numberTexts,
  strings.map((s) => JSON.stringify(s)),
  // Unescaped: raw control characters, quotes and backslashes.
  fc.string({ maxLength: 6 }).map((s) => `"${s}"`),
  fc.constantFrom('true', 'false', 'null', '{}', '[]', '"stat"', '"tick"', '"ready"', '"revision"'),
);
const statObject = fc.array(fc.tuple(
  fc.constantFrom('podName', 'averageConcurrentRequests', 'averageProxiedConcurrentRequests', 'requestCount', 'proxiedRequestCount', 'processUptime', 'timestamp', 'other'),
  value,
), { maxLength: 8 }).map((fields) => `{${fields.map(([k, v]) => `"${k}":${v}`).join(',')}}`);
const space = fc.constantFrom('', '', '', ' ', '\t', '\r', '  ');
/** Numbers as recordings have them (fast-check's doubles are mostly extreme magnitudes). */
const goodNumber = fc.oneof(
  fc.integer({ min: -1e9, max: 2e9 }).map(String),
  fc.tuple(fc.integer({ min: -1e6, max: 2e9 }), fc.integer({ min: 0, max: 999999 })).map(([a, b]) => `${a}.${b}`),
  fc.double({ min: 1e-3, max: 1e9, noNaN: true }).map(String),
  numberTexts,
);
const goodStat = fc.subarray([
  ['podName', fc.oneof(fc.constantFrom('"p-1"', '"service-scraper"', '""'), value)],
  ['averageConcurrentRequests', goodNumber],
  ['averageProxiedConcurrentRequests', goodNumber],
  ['requestCount', goodNumber],
  ['proxiedRequestCount', goodNumber],
  ['processUptime', goodNumber],
] as const).chain((fields) => fc.tuple(...fields.map(([k, v]) => v.map((text) => [k, text] as const))))
  .map((fields) => `{${fields.map(([k, v]) => `"${k}":${v}`).join(',')}}`);
/** Mostly valid events in any field order, some with a field dropped, repeated, added or of the wrong kind. */
const line = fc.record({
  type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('"stat"', '"tick"', '"ready"') }, { weight: 1, arbitrary: value }),
  t: fc.oneof({ weight: 4, arbitrary: goodNumber }, { weight: 1, arbitrary: value }),
  namespace: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('"default"', '"bench"') }, { weight: 1, arbitrary: value }),
  name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('"rev-001"', '"x"') }, { weight: 1, arbitrary: value }),
  stat: fc.oneof({ weight: 4, arbitrary: goodStat }, { weight: 1, arbitrary: fc.oneof(statObject, value) }),
  ready: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 9 }).map(String) }, { weight: 1, arbitrary: value }),
}).chain((fields) => fc.tuple(
  fc.shuffledSubarray(Object.entries(fields), { minLength: 5 }),
  fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom('t', 'name', 'extra', 'stat'), value) }),
  space,
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 })) },
  ),
)).map(([fields, more, ws, damage]) => {
  const all = more ? [...fields, more] : fields;
  const text = `${ws}{${all.map(([k, v]) => `${ws}"${k}"${ws}:${ws}${v}${ws}`).join(',')}}${ws}`;
  if (damage === null) return text;
  // Text inserted at, or the line cut at, some point: before the brace, inside, or after it.
  const [at, insert, cut] = damage;
  const i = at % (text.length + 1);
  return `${text.slice(0, i)}${insert}${text.slice(i + cut)}`;
});

describe('EventScanner against JSON.parse and parseEventLine', () => {
  it('accepts what the live service records, and gives the same events', () => {
    const lines: string[] = [];
    const recorder = new Recorder({ write: (l) => void lines.push(l.trimEnd()) });
    const key = { namespace: 'default', name: 'hello-00001' };
    recorder.stat(1_700_000_000.25, key, {
      podName: 'hello-00001-deployment-5d8f-abcde', averageConcurrentRequests: 12.345, averageProxiedConcurrentRequests: 0.5,
      requestCount: 49, proxiedRequestCount: 2, processUptime: 3600.75, timestamp: 1_700_000_000,
    });
    recorder.stat(1_700_000_001, key, { podName: '', averageConcurrentRequests: -0, averageProxiedConcurrentRequests: 0, requestCount: 1e-7, proxiedRequestCount: 0, processUptime: 0 });
    recorder.tick(1_700_000_002, key);
    recorder.ready(1_700_000_002, key, 3);
    for (const l of lines) expect(agrees(l)).toBe(true);
    // And the generator's lines, with fields left out.
    expect(agrees('{"type":"stat","t":1700000000.5,"namespace":"bench","name":"day","stat":{"podName":"service-scraper","averageConcurrentRequests":101.25,"requestCount":202.5}}')).toBe(true);
  });

  it('leaves revision lines, escapes and non-ASCII text to parseEventLine', () => {
    for (const l of [
      '{"type":"revision","t":1,"namespace":"a","name":"b"}',
      '{"type":"tick","t":1,"namespace":"a","name":"b\\u0041"}',
      '{"type":"tick","t":1,"namespace":"é","name":"b"}',
      '{"type":"tick","t":1,"namespace":"a","name":"b","name":"c"}',
      '{"type":"tick","t":1e400,"namespace":"a","name":"b"}',
      '{"type":"tick","t":1,"namespace":"a\tb","name":"c"}',
      '{"type":"tick","t":1,"namespace":"a","name":"b"} x',
      '{"type":"ready","t":1,"namespace":"a","name":"b","ready":1.5}',
      '{"type":"ready","t":1,"namespace":"a","name":"b","ready":-1}',
      '{"type":"ready","t":1,"namespace":"a","name":"b","ready":2147483648}',
      '{"type":"stat","t":1,"namespace":"a","name":"b"}',
      '{"type":"stat","t":1,"namespace":"a","name":"b","stat":{"requestCount":1,"requestCount":2}}',
      '   ',
    ]) expect(scan(l)).toBeNull();
  });

  it('every line it accepts parses to the same event', () => {
    let accepted = 0;
    fc.assert(fc.property(line, (l) => {
      if (agrees(l)) accepted++;
    }), { numRuns: 5000 });
    // The generator makes valid events often enough for this to test something.
    expect(accepted).toBeGreaterThan(200);
  });

  it('numbers read from the bytes are the numbers JSON.parse reads', () => {
    fc.assert(fc.property(numberTexts, (n) => {
      const l = `{"type":"tick","namespace":"a","name":"b","t":${n}}`;
      const fast = scan(l);
      const reference = slow(l);
      if (fast !== null) expect(Object.is(fast.t, (reference as RecordingEvent).t)).toBe(true);
    }), { numRuns: 5000 });
  });
});
