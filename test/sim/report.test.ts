import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clockLabel, clockTicks, timeAxisLabel } from '../../src/charts/svg.js';
import type { SimulationReport } from '../../src/sim/report.js';
import { renderReportHtml } from '../../src/sim/reportHtml.js';
import { runScenario, runSeeds } from '../../src/sim/run.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { BucketSeries, chartBucketSeconds, IntervalHistogram, SeriesCollector } from '../../src/sim/series.js';
import { runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';

const SHORT = `
name: short
duration: 600
seed: 4
costPerPodHour: 0.12
revisions:
  - name: api
    containerConcurrency: 5
    workload: {spikes: {base: 5, peak: 80, every: 200, duration: 20, start: 50}}
    serviceTime: {exponential: {mean: 0.2}}
    activator: {timeout: 2s}
policies:
  - {name: kpa, kpa: {}}
  - {name: fixed, fixed: {replicas: 2}}
`;

describe('chart series in bounded memory', () => {
  it('buckets are ⌈duration / 2000⌉ s, so a series has at most 2000 of them whatever the duration', () => {
    expect(chartBucketSeconds(600)).toBe(1);
    expect(chartBucketSeconds(86400)).toBe(44);
    expect(chartBucketSeconds(7 * 86400)).toBe(303);
    for (const d of [600, 3600, 86400, 7 * 86400, 31 * 86400]) expect(new BucketSeries(d, chartBucketSeconds(d)).buckets).toBeLessThanOrEqual(2000);
  });

  it('keeps each bucket\'s min and max in time order, and its mean', () => {
    const s = new BucketSeries(10, 5);
    [3, 9, 1, 4, 4, 2, 2, 2, 2, 8].forEach((v, i) => s.add(i + 1, v));
    expect(s.envelope()).toEqual([[2, 9], [3, 1], [6, 2], [10, 8]]);
    expect(s.means()).toEqual([[5, 4.2], [10, 3.2]]);
    expect(s.peak()).toEqual([2, 9]);
    expect(s.total).toBe(37);
  });

  it('one-second buckets keep every value', () => {
    const s = new BucketSeries(4, 1);
    [0, 1, 1, 0].forEach((v, i) => s.add(i + 1, v));
    expect(s.envelope()).toEqual([[1, 0], [2, 1], [3, 1], [4, 0]]);
    expect(s.ranges()).toEqual([[1, 3]]); // seconds 2 and 3: (1, 3]
  });

  it('the interval histogram gives quantiles within 5 % and resets', () => {
    const h = new IntervalHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    expect(Math.abs(h.quantile(0.99) - 990) / 990).toBeLessThan(0.05);
    expect(Math.abs(h.quantile(0.5) - 500) / 500).toBeLessThan(0.05);
    h.reset();
    expect(h.quantile(0.99)).toBe(0);
    h.record(0.01);
    h.record(1e12); // beyond the last bucket: capped, still counted
    expect(h.count).toBe(2);
    expect(h.quantile(1)).toBe(1e12);
  });

  it('the collector holds the same number of points for a day as for a week', () => {
    const points = (duration: number) => {
      const c = new SeriesCollector(duration);
      for (let t = 1; t <= duration; t++) {
        c.add({ t, revision: 'r', policy: 'p', arrivals: t % 7, inFlight: 1, readyPods: 1, desiredPods: 1, stableValue: null, panicValue: null, panic: false, activatorQueue: 0 },
          { latenciesMs: [100 + (t % 13)], failed: 0, rejected: 0 });
      }
      const s = c.get('r', 'p')!;
      return s.arrivals.envelope().length + s.p99.envelope().length;
    };
    expect(points(7 * 86400)).toBeLessThanOrEqual(2 * 2 * 2000); // two series, a min and a max per bucket
    expect(points(7 * 86400)).toBeGreaterThan(points(86400) * 0.9);
  });
});

describe('clock-time axes', () => {
  it('labels seconds since the start as hh:mm, or day and hh:mm past a day', () => {
    expect(clockLabel(0, false)).toBe('00:00');
    expect(clockLabel(5400, false)).toBe('01:30');
    expect(clockLabel(86400, false)).toBe('24:00');
    expect(clockLabel(86400 + 6 * 3600, true)).toBe('day 2 06:00');
    expect(timeAxisLabel(1200)).toBe('time (s)');
    expect(timeAxisLabel(86400)).toMatch(/hh:mm/);
    expect(timeAxisLabel(7 * 86400)).toMatch(/day hh:mm/);
  });

  it('ticks at whole clock steps', () => {
    expect(clockTicks(7200)).toEqual([0, 900, 1800, 2700, 3600, 4500, 5400, 6300, 7200]);
    expect(clockTicks(86400)).toEqual([0, 10800, 21600, 32400, 43200, 54000, 64800, 75600, 86400]);
    expect(clockTicks(7 * 86400, 7)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((d) => d * 86400));
  });
});

describe('report.html', () => {
  const scenario = parseScenario(SHORT);
  const render = (report: SimulationReport) => {
    const series = new SeriesCollector(scenario.duration);
    return { html: renderReportHtml(report, series, scenario), series };
  };

  it('overlays the policies on one chart per quantity, with the inputs, pod-hours and cost', () => {
    const series = new SeriesCollector(scenario.duration);
    const report = runScenario(scenario, { onSecond: (row, extras) => series.add(row, extras) });
    const html = renderReportHtml(report, series, scenario);
    const titles = [...html.matchAll(/<title id="t">([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(titles).toEqual([
      'api: arrivals and requests in flight', 'api: pods (solid: ready, dashed: desired; shaded: panic)', 'api: requests waiting in the activator',
      'api: p99 latency per 10 s (requests completed in each 10 s)', 'api: failed (solid) and rejected (dashed) requests per second', 'api: end-to-end latency by percentile (cumulative, log axes)',
    ]);
    expect(html).toMatch(/<th>pod-hours<\/th>.*<th>cost<\/th>/);
    expect(html).toMatch(/<pre class="inputs">[\s\S]*costPerPodHour: 0\.12[\s\S]*spikes:[\s\S]*replicas: 2/);
    expect(html).toMatch(/When users suffered/);
    // p99 per 10 s: a point per 10 s interval with completions.
    const p99 = series.get('api', 'kpa')!.p99.envelope();
    expect(p99.length).toBeGreaterThan(50);
    expect(p99.every(([t]) => t % 10 === 0)).toBe(true);
    const [kpa] = report.results;
    expect(kpa.podHours).toBeCloseTo(kpa.podSeconds / 3600, 4);
    expect(kpa.cost).toBeCloseTo(kpa.podHours! * 0.12, 4);
    // Short runs: seconds on the axis.
    expect(html).toMatch(/time \(s\)/);
  });

  it('no costPerPodHour: no cost column, no cost in report.json', () => {
    const s = parseScenario(SHORT.replace('costPerPodHour: 0.12\n', ''));
    const report = runScenario(s);
    expect(report.results[0].cost).toBeUndefined();
    expect(report.costPerPodHour).toBeUndefined();
    expect(renderReportHtml(report, new SeriesCollector(s.duration), s)).not.toMatch(/<th>cost<\/th>/);
  });

  it('costPerPodHour must be a number ≥ 0', () => {
    expect(() => parseScenario(SHORT.replace('0.12', '-1'))).toThrow(/costPerPodHour: must be ≥ 0/);
    expect(() => parseScenario(SHORT.replace('0.12', 'cheap'))).toThrow(/costPerPodHour: must be a number/);
  });

  it('--seeds N: statistics over seed … seed + N − 1, the first seed\'s results', () => {
    const report = runSeeds(scenario, 4);
    expect(report.seeds).toEqual([4, 5, 6, 7]);
    expect(report.results).toEqual(runScenario(scenario).results);
    const kpa = report.statistics![0];
    expect(kpa.perSeed.map((f) => f.seed)).toEqual([4, 5, 6, 7]);
    const runs = [4, 5, 6, 7].map((seed) => runScenario({ ...scenario, seed }).results[0]);
    expect(kpa.podSeconds.mean).toBeCloseTo(runs.reduce((a, r) => a + r.podSeconds, 0) / 4, 3);
    expect(kpa.p99Ms.low).toBeLessThanOrEqual(kpa.p99Ms.mean);
    expect(kpa.p99Ms.high).toBeGreaterThanOrEqual(kpa.p99Ms.mean);
    expect(kpa.cost).toBeDefined();
    expect(render(report).html).toMatch(/Over 4 seeds[\s\S]*<table class="statistics">/);
    expect(runSeeds(scenario, 1)).toEqual(runScenario(scenario)); // one seed: the report as before
  });

  it('kpa simulate --seeds: byte-identical outputs for a fixed seed, statistics in report.json', async () => {
    const dir = tempDir('seeds');
    const file = join(dir, 'short.yaml');
    writeFileSync(file, SHORT);
    for (const out of ['a', 'b']) {
      const r = await runCli(['simulate', file, '--out', join(dir, out), '--seeds', '3']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/api\/kpa over 3 seeds \(mean ± 95 % CI\): p99 /);
    }
    for (const f of ['report.json', 'timeseries.csv', 'report.html', 'traffic.svg']) {
      expect(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f))), f).toBe(true);
    }
    const json = JSON.parse(readFileSync(join(dir, 'a', 'report.json'), 'utf8')) as SimulationReport;
    expect(json.seeds).toEqual([4, 5, 6]);
    expect(json.statistics).toHaveLength(2);
    expect((await runCli(['simulate', file, '--out', join(dir, 'c'), '--seeds', '0'])).stderr).toMatch(/--seeds must be a whole number from 1/);
  });
});
