/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedRun, startEmbeddedRun } from '../../src/cli/runEmbedded.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tempDir.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
// .ci/run installs Chromium and sets this, so CI always runs the browser test;
// a plain `npm test` without Chromium skips it and says why, instead of installing packages.
const REQUIRED = process.env.KPA_REQUIRE_BROWSER === '1';
if (!HAVE_CHROMIUM) {
  const why = `${CHROMIUM} is missing: the browser test ${REQUIRED ? 'cannot run' : 'is skipped'} (install it with test/browser/ensure-chromium.sh)`;
  if (REQUIRED) throw new Error(why);
  console.warn(why);
}
// `npm run screenshot` refreshes the README's picture; a plain `npm test` leaves the checkout untouched.
const SCREENSHOT = process.env.KPA_UPDATE_SCREENSHOT === '1' ? 'docs/dashboard.png' : join(tempDir('dashboard'), 'dashboard.png');
let run: EmbeddedRun;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  run = await startEmbeddedRun({ logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0 });
});
afterAll(async () => {
  await run?.close();
});

describe.skipIf(!HAVE_CHROMIUM)('dashboard in headless Chromium', () => {
  it('renders live charts for every revision and takes the README screenshot', async () => {
    // launch() gives Chromium a fresh, empty profile of its own each time.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`http://127.0.0.1:${run.live.httpPort}/`);
      await page.waitForSelector('#status:text-matches("live")');
      // Three revision cards, each with two uPlot canvases fed by several updates.
      await page.waitForFunction(() => document.querySelectorAll('.card canvas').length >= 6 && Number(document.body.dataset.updates ?? 0) >= 4, undefined, { timeout: 20_000 });
      // Wait for the flash crowd to panic and scale up, so the screenshot shows the autoscaler at work.
      await page.waitForFunction(() => {
        const card = document.querySelector('.card[data-revision="default/flash-crowd"]');
        return card?.querySelector('.badge.mode')?.textContent === 'PANIC' && /^([4-9]|\d\d+) ready/.test(card.querySelector('.badge.pods')?.textContent ?? '');
      }, undefined, { timeout: 45_000 });
      await page.waitForTimeout(3000);
      const points = await page.$$eval('.card', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.points)));
      expect(points.every((n) => n >= 4)).toBe(true);
      expect(await page.$$eval('.log div', (lines) => lines.length)).toBeGreaterThan(0);
      // Each card says where its load is measured.
      const sources = await page.$$eval('.card', (cards) => cards.map((c) => [(c as HTMLElement).dataset.revision, c.querySelector('.badge.source')?.textContent]));
      expect(sources).toEqual([['default/flash-crowd', 'load from kpa activator'], ['default/diurnal', 'load from queue-proxy'], ['default/idle-burst', 'load from kpa activator']]);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);

      // A page opened late starts from the service's kept history, not from an empty chart.
      const late = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      late.on('pageerror', (err) => errors.push(err.message));
      await late.goto(`http://127.0.0.1:${run.live.httpPort}/`);
      await late.waitForFunction(() => document.body.dataset.history === 'drawn', undefined, { timeout: 10_000 });
      // Drawn before the page follows the live stream: every point here came from the service's history.
      const drawn = await late.$$eval('.card', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.points)));
      expect(drawn).toHaveLength(3);
      expect(Math.min(...drawn)).toBeGreaterThanOrEqual(4);
      expect(await late.$$eval('.card[data-revision="default/flash-crowd"] .log div', (lines) => lines.length)).toBeGreaterThan(1);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
