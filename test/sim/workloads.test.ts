import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meanOf, sampler } from '../../src/sim/distribution.js';
import { fileLines, textLines } from '../../src/sim/lineReader.js';
import { Random } from '../../src/sim/random.js';
import { parseScenario, ScenarioError, type SimRevision } from '../../src/sim/scenario.js';
import { azure2019Busiest, readAzure2021, spreadPerMinute } from '../../src/sim/traces.js';
import { poissonArrivals, rateAt, type RateSpec } from '../../src/sim/workload.js';
import { tempDir } from '../helpers/tempDir.js';

const FIXTURES = 'test/sim/fixtures';
/** Parses a scenario as if it were a file in the fixtures directory, so trace paths are relative to it. */
const scenario = (yaml: string) => parseScenario(yaml, join(FIXTURES, 'scenario.yaml'));
const revisionWith = (workload: string, extra = '', duration = 120): SimRevision =>
  scenario(`duration: ${duration}\nrevisions: [{name: a, workload: ${workload}${extra}}]`).revisions[0];

// The fixtures' ids: sha256 of the names in test/sim/fixtures (synthetic data).
const FN = {
  http: '73751f394403911ce4e5c6ca0b8b54380058a52c343d9374f654ff0522db2638',
  queue: 'f2ee30c5d9ef8452fdeaa7a801e129d64dbf7f26984d0aa751713e3462e8f474',
  timer: '3ad7c117974d8a22417fd9bd799f706d69f72d26ecfe6bd78157f9b2dd79bdb9',
  event: '41c98721810b58aa2bd6d63c13e746aebc913c7c263b1794da82b9d04cf76f27',
  rare: '535407bae26b4c40d78a85640b9a654e95b5470cd1f8216672491fb86064ee8c',
};
const APP_X = '2d298a20323f73d8b79121662908b4a87c9a58a193bbbf1309af0400e2300532';
const APP_X_API = 'd7b366541fe30eaa027e937cc24b69eb8e7806ab4ceaa50911d0b93e35cbfb35';
const APP_X_WORKER = '25323aba8cd0f9fc01ca5f73e5dec40a59a57a11d2725b80ebcacee59380b386';

const timestamps = (r: SimRevision): number[] => {
  if (!('trace' in r.workload)) throw new Error('not a trace');
  return r.workload.trace.timestamps;
};

describe('rate formulas', () => {
  it('are evaluated once per second at t = 0, 1, …, with h and day', () => {
    const r = revisionWith('{rate: "50 + 30*sin(2*pi*t/86400)"}', '', 86_400);
    const spec = r.workload as RateSpec;
    expect(rateAt(spec, 0.5)).toBe(50);
    expect(rateAt(spec, 21_600.5)).toBeCloseTo(80, 9);
    expect(rateAt(spec, 64_800)).toBeCloseTo(20, 9);
    const byHour = revisionWith('{rate: "h < 1 ? 10 : 2*day*24"}', '', 7200).workload as RateSpec;
    expect([rateAt(byHour, 3599.9), rateAt(byHour, 3600), rateAt(byHour, 5400)]).toEqual([10, 2, 3]);
  });

  it('drive the Poisson arrivals: the count is the integral of the rate', () => {
    const spec = revisionWith('{rate: "20 + 10*sin(2*pi*t/600)"}', '', 3600).workload as RateSpec;
    const source = poissonArrivals(spec, 3600, new Random(3));
    let n = 0;
    while (source.next() !== Infinity) n++;
    // Mean 72 000, standard deviation about 268: within 4σ.
    expect(Math.abs(n - 72_000)).toBeLessThan(1100);
  });

  it('mix with the other rates in a sum, and rate: NUMBER is a constant', () => {
    const spec = revisionWith('{sum: [{constant: {rate: 5}}, {rate: "t"}, {rate: 2}]}').workload as RateSpec;
    expect(rateAt(spec, 10.5)).toBe(17);
  });

  const bad = (formula: string) => revisionWith(`{rate: ${JSON.stringify(formula)}}`);
  it.each([
    { formula: 'tt + 1', message: 'unknown symbol "tt" (the formula may use t, h, day, pi, e, tau, and mathjs functions)' },
    { formula: '50 + x', message: 'unknown symbol "x"' },
    { formula: 'foo(t)', message: 'unknown function "foo" (a formula may call abs, sign, ceil' },
    { formula: 'random()', message: 'unknown function "random"' },
    { formula: '1 +', message: 'not a formula: Unexpected end of expression (char 4)' },
    { formula: '', message: 'must be a formula such as' },
    { formula: '10 - t', message: 'at t = 11 s the formula gives -1 (a rate must be a finite number ≥ 0)' },
    { formula: 'sqrt(t - 5)', message: 'at t = 0 s the formula gives NaN' },
    { formula: '1 / abs(t - 3)', message: 'at t = 3 s the formula gives Infinity' },
    { formula: 't > 5', message: 'at t = 0 s the formula gives false' },
    { formula: '"fifty"', message: '"fifty" is not a number' },
    { formula: '5 cm', message: 'unknown symbol "cm"' },
    { formula: 't & 1', message: 'operator "&" is not allowed' },
    { formula: '[1, 2]', message: 'matrices are not allowed in a rate formula' },
    { formula: '1:3', message: 'ranges are not allowed in a rate formula' },
    { formula: '{a: 1}', message: 'objects are not allowed in a rate formula' },
  ])('$formula → revisions[0].workload.rate: $message', ({ formula, message }) => {
    expect(() => bad(formula)).toThrow(ScenarioError);
    expect(() => bad(formula)).toThrow(`revisions[0].workload.rate: ${message}`);
  });

  it.each([
    { formula: 'x = 5', message: 'assignments are not allowed' },
    { formula: 'f(x) = x; f(t)', message: 'several expressions are not allowed' },
    { formula: 'f(x) = x', message: 'function definitions are not allowed' },
    { formula: 'import({x: 1}, {})', message: 'unknown function "import"' },
    { formula: 'evaluate("1")', message: 'unknown function "evaluate"' },
    { formula: 'createUnit("foo")', message: 'unknown function "createUnit"' },
    { formula: 'parse("1").compile().evaluate()', message: 'property and index accesses are not allowed' },
    { formula: 'cos.constructor("return 1")(1)', message: 'property and index accesses are not allowed' },
    { formula: 'sin.constructor', message: 'property and index accesses are not allowed' },
    { formula: 't["constructor"]', message: 'property and index accesses are not allowed' },
  ])('cannot run code: $formula', ({ formula, message }) => {
    expect(() => bad(formula)).toThrow(`revisions[0].workload.rate: ${message}`);
  });

  it('simulations/formula-day.yaml is valid: the integral of its rate is about 3.58 M requests', async () => {
    const { loadScenario } = await import('../../src/sim/scenario.js');
    const spec = loadScenario('simulations/formula-day.yaml').revisions[0].workload as RateSpec;
    let total = 0;
    for (let t = 0; t < 86_400; t++) total += rateAt(spec, t + 0.5);
    expect(total / 1e6).toBeCloseTo(3.576, 2);
  });

  it('name the path inside a sum', () => {
    expect(() => revisionWith('{sum: [{constant: {rate: 1}}, {rate: "tt"}]}')).toThrow('revisions[0].workload.sum[1].rate: unknown symbol "tt"');
  });
});

describe('Azure Functions 2021 traces', () => {
  it('replay one function: arrivals at end_timestamp − duration, sorted, never before 0', () => {
    const r = revisionWith(`{trace: {azure2021: azure2021-invocations.txt, app: ${APP_X}, func: ${APP_X_API}}}`);
    const ts = timestamps(r);
    const all = readAzure2021(fileLines(join(FIXTURES, 'azure2021-invocations.txt')), { app: APP_X, func: APP_X_API, durations: true });
    expect(ts).toEqual(all.starts);
    expect(all.clamped).toBe(1); // the fixture's invocation that ended at 0.1 s after 0.4 s
    expect(ts[0]).toBe(0);
    expect(ts.every((t, i) => i === 0 || t >= ts[i - 1])).toBe(true);
    // 0.331 − 0.031 is 0.3 for the first invocation of app-y; app-x's first one starts at 0.3 too.
    expect(ts[1]).toBeCloseTo(0.3, 9);
    // The service time is untouched unless asked for.
    expect(r.serviceTime).toEqual({ constant: 0.1 });
  });

  it('an app without func is all its functions; serviceTime: trace samples the durations', () => {
    const whole = revisionWith(`{trace: {azure2021: azure2021-invocations.txt, app: ${APP_X}}}`, ', serviceTime: trace');
    const api = readAzure2021(fileLines(join(FIXTURES, 'azure2021-invocations.txt')), { app: APP_X, func: APP_X_API, durations: true });
    const worker = readAzure2021(fileLines(join(FIXTURES, 'azure2021-invocations.txt')), { app: APP_X, func: APP_X_WORKER, durations: true });
    expect(timestamps(whole)).toEqual([...api.starts, ...worker.starts].sort((a, b) => a - b));
    expect('empirical' in whole.serviceTime && [...whole.serviceTime.empirical].sort()).toEqual([...api.durations!, ...worker.durations!].sort());
  });

  it('reads the same whatever the chunk size, with a byte-order mark, \\r\\n line ends and no final newline', () => {
    const dir = tempDir('a21');
    const file = join(dir, 'trace.txt');
    writeFileSync(file, '\uFEFFapp,func,end_timestamp,duration\r\na,f,2.5,0.5\r\nb,f,3,1\r\na,f,10,1.25\r\na,g,4,4');
    for (const chunkBytes of [1, 3, 7, 1 << 20]) {
      expect(readAzure2021(fileLines(file, chunkBytes), { app: 'a', durations: true })).toEqual({ starts: [0, 2, 8.75], durations: [0.5, 1.25, 4], clamped: 0 });
    }
    // UTF-8 split across chunks decodes whole.
    writeFileSync(file, 'héllo\nwörld\n');
    const lines: string[] = [];
    fileLines(file, 1)((line) => { lines.push(line); });
    expect(lines).toEqual(['héllo', 'wörld']);
    // Columns are found by name.
    expect(readAzure2021(textLines('duration,end_timestamp,func,app\n1,5,f,a\n'), { app: 'a', func: 'f' }).starts).toEqual([4]);
  });
});

describe('Azure Functions 2019 traces', () => {
  it('top: N makes a revision per function, busiest first, named by a short hash, sharing the other fields', () => {
    const s = scenario(`duration: 1200
revisions:
  - {name: fn, containerConcurrency: 2, workload: {trace: {azure: azure2019-invocations.csv, top: 3, spread: equidistant}}}
  - {name: other, workload: {constant: {rate: 1}}}
`);
    expect(s.revisions.map((r) => r.name)).toEqual([`fn-${FN.http.slice(0, 8)}`, `fn-${FN.timer.slice(0, 8)}`, `fn-${FN.event.slice(0, 8)}`, 'other']);
    expect(s.revisions.map((r) => r.settings.containerConcurrency)).toEqual([2, 2, 2, 0]);
    expect(s.revisions.slice(0, 3).map((r) => timestamps(r).length)).toEqual([840, 120, 100]);
    // The timer fires 60 times in minutes 1 and 11, evenly spaced.
    expect(timestamps(s.revisions[1]).slice(0, 3)).toEqual([0.5, 1.5, 2.5]);
    expect(timestamps(s.revisions[1])[60]).toBe(600.5);
  });

  it('minInvocations drops quiet functions; ties keep the file order', () => {
    const s = scenario(`duration: 1200\nrevisions: [{name: fn, workload: {trace: {azure: azure2019-invocations.csv, top: 10, minInvocations: 95}}}]`);
    expect(s.revisions.map((r) => r.name)).toEqual([FN.http, FN.timer, FN.event].map((h) => `fn-${h.slice(0, 8)}`));
    const tied = azure2019Busiest(textLines('HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f1,http,1,1\no,a,f2,http,2,0\no,a,f3,http,0,3\n'), 2);
    expect(tied.map((f) => f.function)).toEqual(['f3', 'f1']);
  });

  it('function: HASH replays one row; the default spread is uniform, as before', () => {
    const r = revisionWith(`{trace: {azure: azure2019-invocations.csv, function: ${FN.queue}}}`, '', 1200);
    const ts = timestamps(r);
    expect(ts.length).toBe(90);
    expect(ts.filter((t) => t < 60).length).toBe(12);
    expect(ts.filter((t) => t >= 60 && t < 120).length).toBe(2);
  });

  it('spreads a minute uniformly, evenly or as a Poisson process at its rate', () => {
    const perMinute = [0, 3, 6000];
    expect(spreadPerMinute(perMinute, 'equidistant', new Random(1)).slice(0, 3)).toEqual([70, 90, 110]);
    const uniform = spreadPerMinute(perMinute, 'uniform', new Random(1));
    expect(uniform.length).toBe(6003);
    expect(uniform.slice(0, 3).every((t) => t >= 60 && t < 120)).toBe(true);
    const poisson = spreadPerMinute([6000, 6000, 6000, 6000], 'exponential', new Random(1));
    // Poisson(24 000): standard deviation 155.
    expect(Math.abs(poisson.length - 24_000)).toBeLessThan(650);
    expect(poisson.every((t, i) => t >= 0 && t < 240 && (i === 0 || t >= poisson[i - 1]))).toBe(true);
    const gaps = poisson.slice(1).map((t, i) => t - poisson[i]);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const cv = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length) / mean;
    expect(cv).toBeGreaterThan(0.95); // exponential gaps: coefficient of variation 1
  });
});

describe('Azure 2019 durations as a service time', () => {
  it('interpolates linearly between the percentiles', () => {
    const r = revisionWith('{constant: {rate: 1}}', `, serviceTime: {azure2019Durations: azure2019-durations.csv, function: ${FN.http}}`);
    expect(r.serviceTime).toEqual({ percentiles: [[0, 0.05], [1, 0.06], [25, 0.09], [50, 0.11], [75, 0.14], [99, 0.4], [100, 1.5]] });
    const draw = sampler(r.serviceTime);
    const rng = new Random(7);
    const xs = Array.from({ length: 100_000 }, () => draw(rng)).sort((a, b) => a - b);
    expect(xs[0]).toBeGreaterThanOrEqual(0.05);
    expect(xs[xs.length - 1]).toBeLessThanOrEqual(1.5);
    expect(xs[50_000]).toBeCloseTo(0.11, 2);
    expect(xs[37_500]).toBeCloseTo(0.1, 2); // halfway between p25 and p50
    expect(xs[87_000]).toBeCloseTo(0.14 + (0.4 - 0.14) / 2, 2); // halfway between p75 and p99
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeCloseTo(meanOf(r.serviceTime), 2);
  });

  it('a revision made from a 2019 function takes that function\'s row by default', () => {
    const s = scenario(`duration: 1200
revisions: [{name: fn, workload: {trace: {azure: azure2019-invocations.csv, top: 2}}, serviceTime: {azure2019Durations: azure2019-durations.csv}}]`);
    expect(s.revisions.map((r) => 'percentiles' in r.serviceTime && r.serviceTime.percentiles[3])).toEqual([[50, 0.11], [50, 30]]);
  });
});

describe('bad workload fields name the field', () => {
  const dir = tempDir('bad-workloads');
  writeFileSync(join(dir, 'bad2021.txt'), 'app,func,end_timestamp,duration\na,f,5,-1\n');
  writeFileSync(join(dir, 'bad-header.txt'), 'app,function,end,duration\n');
  writeFileSync(join(dir, 'bad-durations.csv'), 'HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\no,a,f,1,1,1,1,5,6,7,4,9,10,11\n');
  const inFixtures = (p: string) => join(process.cwd(), FIXTURES, p);
  const rev = (fields: string) => `duration: 60\nrevisions: [{name: a, ${fields}}]`;
  it.each([
    { name: 'rate of the wrong type', yaml: rev('workload: {rate: [1]}'), path: 'revisions[0].workload.rate', message: /must be a number or a formula/ },
    { name: 'negative rate number', yaml: rev('workload: {rate: -1}'), path: 'revisions[0].workload.rate', message: /must be ≥ 0/ },
    { name: 'two trace kinds', yaml: rev(`workload: {trace: {csv: x.csv, azure2021: y.txt}}`), path: 'revisions[0].workload.trace', message: /exactly one of csv: FILE, azure: FILE or azure2021: FILE/ },
    { name: 'azure2021 without app', yaml: rev(`workload: {trace: {azure2021: ${inFixtures('azure2021-invocations.txt')}}}`), path: 'revisions[0].workload.trace.app', message: /is required/ },
    { name: 'azure2021 func not a string', yaml: rev(`workload: {trace: {azure2021: ${inFixtures('azure2021-invocations.txt')}, app: a, func: 3}}`), path: 'revisions[0].workload.trace.func', message: /must be the trace's func id/ },
    { name: 'azure2021 unknown key', yaml: rev(`workload: {trace: {azure2021: ${inFixtures('azure2021-invocations.txt')}, app: a, function: f}}`), path: 'revisions[0].workload.trace.function', message: /unknown key \(expected one of azure2021, app, func\)/ },
    { name: 'azure2021 missing file', yaml: rev('workload: {trace: {azure2021: nope.txt, app: a}}'), path: 'revisions[0].workload.trace.azure2021', message: /cannot read trace file .*nope\.txt: ENOENT/ },
    { name: 'azure2021 header', yaml: rev(`workload: {trace: {azure2021: ${join(dir, 'bad-header.txt')}, app: a}}`), path: 'revisions[0].workload.trace.azure2021', message: /line 1: expected the header app,func,end_timestamp,duration/ },
    { name: 'azure2021 negative duration', yaml: rev(`workload: {trace: {azure2021: ${join(dir, 'bad2021.txt')}, app: a}}`), path: 'revisions[0].workload.trace.azure2021', message: /line 2: duration: not a duration in seconds: "-1"/ },
    { name: 'azure2021 no such app', yaml: rev(`workload: {trace: {azure2021: ${inFixtures('azure2021-invocations.txt')}, app: nobody}}`), path: 'revisions[0].workload.trace.azure2021', message: /no invocation of app nobody/ },
    { name: 'serviceTime trace without durations', yaml: rev('workload: {constant: {rate: 1}}, serviceTime: trace'), path: 'revisions[0].serviceTime', message: /only trace: \{azure2021: FILE, app, func\} has them/ },
    { name: 'unknown spread', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, spread: poisson}}`), path: 'revisions[0].workload.trace.spread', message: /must be one of uniform, exponential, equidistant, got "poisson"/ },
    { name: 'unknown spread with top', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 2, spread: even}}`), path: 'revisions[0].workload.trace.spread', message: /must be one of/ },
    { name: 'top not a whole number', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 1.5}}`), path: 'revisions[0].workload.trace.top', message: /must be a whole number/ },
    { name: 'top zero', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 0}}`), path: 'revisions[0].workload.trace.top', message: /must be ≥ 1/ },
    { name: 'top without azure', yaml: rev('workload: {trace: {csv: x.csv, top: 2}}'), path: 'revisions[0].workload.trace.csv', message: /unknown key \(expected one of azure, top, minInvocations, spread\)/ },
    { name: 'top with function', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 2, function: f}}`), path: 'revisions[0].workload.trace.function', message: /unknown key/ },
    { name: 'minInvocations negative', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 2, minInvocations: -1}}`), path: 'revisions[0].workload.trace.minInvocations', message: /must be ≥ 0/ },
    { name: 'minInvocations without top', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, minInvocations: 5}}`), path: 'revisions[0].workload.trace.minInvocations', message: /only with top: N/ },
    { name: 'minInvocations above every function', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 2, minInvocations: 100000}}`), path: 'revisions[0].workload.trace.azure', message: /no function has at least 100000 invocations/ },
    { name: 'top with a workload beside the trace', yaml: rev(`workload: {trace: {azure: ${inFixtures('azure2019-invocations.csv')}, top: 2}, constant: {rate: 1}}`), path: 'revisions[0].workload.constant', message: /unknown key/ },
    { name: 'top on the second revision, bad minute', yaml: `duration: 60\nrevisions: [{name: a, workload: {rate: 1}}, {name: b, workload: {trace: {azure: ${join(dir, 'bad2019.csv')}, top: 1}}}]`, path: 'revisions[1].workload.trace.azure', message: /bad2019\.csv: line 3: minute 2: not a count: "x"/ },
    { name: 'azure2019Durations function missing', yaml: rev(`workload: {rate: 1}, serviceTime: {azure2019Durations: ${inFixtures('azure2019-durations.csv')}}`), path: 'revisions[0].serviceTime.function', message: /is required/ },
    { name: 'azure2019Durations unknown function', yaml: rev(`workload: {rate: 1}, serviceTime: {azure2019Durations: ${inFixtures('azure2019-durations.csv')}, function: ${FN.rare}}`), path: 'revisions[0].serviceTime.azure2019Durations', message: new RegExp(`no row for function ${FN.rare}`) },
    { name: 'azure2019Durations with another kind', yaml: rev(`workload: {rate: 1}, serviceTime: {azure2019Durations: ${inFixtures('azure2019-durations.csv')}, constant: 1}`), path: 'revisions[0].serviceTime.constant', message: /unknown key \(expected one of azure2019Durations, function\)/ },
    { name: 'azure2019Durations not increasing', yaml: rev(`workload: {rate: 1}, serviceTime: {azure2019Durations: ${join(dir, 'bad-durations.csv')}, function: f}`), path: 'revisions[0].serviceTime.azure2019Durations', message: /line 2: percentile_Average_50 \(4 ms\) is below percentile_Average_25 \(7 ms\)/ },
    { name: 'azure2019Durations not a file name', yaml: rev('workload: {rate: 1}, serviceTime: {azure2019Durations: 3, function: f}'), path: 'revisions[0].serviceTime.azure2019Durations', message: /must be a file name/ },
  ])('$name → $path', ({ yaml, path, message }) => {
    writeFileSync(join(dir, 'bad2019.csv'), 'HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f1,http,1,1\no,a,f2,http,2,x\n');
    let error: unknown;
    try {
      parseScenario(yaml, join(dir, 'bad.yaml'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).path).toBe(path);
    expect((error as ScenarioError).message).toMatch(message);
  });
});
