/// <reference lib="dom" />
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
// As the dashboard test: .ci/run sets KPA_REQUIRE_BROWSER=1 so CI always runs it; without Chromium a plain `npm test` skips it and says why.
const REQUIRED = process.env.KPA_REQUIRE_BROWSER === '1';
if (!HAVE_CHROMIUM) {
  const why = `${CHROMIUM} is missing: the report browser test ${REQUIRED ? 'cannot run' : 'is skipped'} (install it with test/browser/ensure-chromium.sh)`;
  if (REQUIRED) throw new Error(why);
  console.warn(why);
}
const dir = tempDir('report-browser');
// `npm run screenshot` refreshes docs/report.png; a plain `npm test` leaves the checkout untouched.
const SCREENSHOT = process.env.KPA_UPDATE_SCREENSHOT === '1' ? 'docs/report.png' : join(dir, 'report.png');

// Two hours (clock-time axes), two flash crowds, an activator timeout short enough to fail some requests, a price per pod-hour.
const SCENARIO = `
name: report-browser
duration: 2h
seed: 3
costPerPodHour: 0.05
revisions:
  - name: shop
    containerConcurrency: 10
    config: {scale-to-zero-grace-period: 30s}
    workload:
      sum:
        - {onOff: {rate: 15, on: 20m, off: 10m}}
        - {spikes: {base: 0, peak: 300, every: 40m, duration: 45s, start: 5m}}
    serviceTime: {lognormal: {mean: 200ms, p99: 1s}}
    pod: {coldStart: {exponential: {mean: 3s}}, schedulingDelay: 500ms}
    activator: {timeout: 5s}
policies:
  - {name: kpa, kpa: {}}
  - {name: hpa, hpa: {metric: concurrency, target: 7}}
`;

describe.skipIf(!HAVE_CHROMIUM)('report.html in headless Chromium', () => {
  it('renders every chart with a line per policy, and takes a screenshot', async () => {
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, SCENARIO);
    const out = join(dir, 'out');
    const run = await runCli(['simulate', file, '--out', out, '--seeds', '3']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      await page.goto(pathToFileURL(join(out, 'report.html')).href);
      // Six charts: arrivals and in flight, pods, activator queue, p99 per 10 s, failures, the latency CDF.
      const charts = await page.$$eval('section.revision svg', (svgs) => svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return { title: svg.querySelector('title')?.textContent ?? '', width: box.width, height: box.height, lines: svg.querySelectorAll('path').length, text: svg.textContent ?? '' };
      }));
      expect(charts.map((c) => c.title)).toEqual([
        'shop: arrivals and requests in flight', 'shop: pods (solid: ready, dashed: desired; shaded: panic)', 'shop: requests waiting in the activator',
        'shop: p99 latency per 10 s (requests completed in each 10 s)', 'shop: failed (solid) and rejected (dashed) requests per second', 'shop: end-to-end latency by percentile (cumulative, log axes)',
      ]);
      for (const c of charts) {
        expect(c.width, c.title).toBeGreaterThan(400);
        expect(c.height, c.title).toBeGreaterThan(200);
        expect(c.lines, c.title).toBeGreaterThanOrEqual(2); // a line per policy
        expect(c.text, c.title).toMatch(/kpa[\s\S]*hpa/); // the legend names both
      }
      // Two hours: clock times on the axis, not raw seconds.
      expect(charts[0].text).toMatch(/01:00/);
      // The statistics table over the seeds, the cost column, the inputs echoed.
      expect(await page.$$eval('table.statistics tbody tr', (rows) => rows.length)).toBe(2);
      expect(await page.$$eval('table:first-of-type th', (ths) => ths.map((th) => th.textContent))).toContain('cost');
      expect(await page.textContent('pre.inputs')).toMatch(/costPerPodHour: 0\.05[\s\S]*onOff/);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]); // self-contained
    } finally {
      await browser.close();
    }
  }, 90_000);
});
