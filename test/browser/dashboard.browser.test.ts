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
  it('lists the revisions, opens the demo\'s few with live charts, and takes the README screenshot', async () => {
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
      // The demo's three revisions are listed, and each is opened: a card with two uPlot canvases fed by several updates.
      await page.waitForFunction(() => document.querySelectorAll('.card canvas').length >= 6 && Number(document.body.dataset.updates ?? 0) >= 4, undefined, { timeout: 20_000 });
      expect(await page.$$eval('#list tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.revision).sort())).toEqual(['default/diurnal', 'default/flash-crowd', 'default/idle-burst']);
      expect(await page.textContent('#replica')).toBe('replica kpa · all revisions');
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
      expect(sources).toEqual([['default/diurnal', 'load from queue-proxy'], ['default/flash-crowd', 'load from kpa activator'], ['default/idle-burst', 'load from kpa activator']]);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);

      // Search, filters and sort go to the API: what they list is what it selects.
      await page.fill('#q', 'flash');
      await page.waitForFunction(() => document.querySelectorAll('#list tbody tr[data-revision]').length === 1);
      expect(await page.$eval('#list tbody tr[data-revision]', (r) => (r as HTMLElement).dataset.revision)).toBe('default/flash-crowd');
      await page.fill('#q', '');
      await page.selectOption('#sort', 'name');
      await page.waitForFunction(() => Array.from(document.querySelectorAll('#list tbody tr[data-revision]')).map((r) => (r as HTMLElement).dataset.revision).join() === 'default/diurnal,default/flash-crowd,default/idle-burst');
      // Which revisions panic or sit at zero right now depends on the demo's timing; what the page lists must be them.
      for (const [filter, cell, holds] of [['panicking', '.mode', /^PANIC$/], ['zero', '.pods', /^0 ready/]] as const) {
        const lists = Number(await page.evaluate(() => document.body.dataset.lists));
        await page.selectOption('#filter', filter);
        await page.waitForFunction((n) => Number(document.body.dataset.lists) > n, lists);
        const shown = await page.$$eval(`#list tbody tr[data-revision] ${cell}`, (cells) => cells.map((c) => c.textContent ?? ''));
        expect(shown.every((text) => holds.test(text)), `${filter}: ${shown.join(', ')}`).toBe(true);
      }
      await page.selectOption('#filter', '');
      expect(errors).toEqual([]);

      // A page opened late starts each opened revision from the service's kept history, not from an empty chart.
      const late = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      late.on('pageerror', (err) => errors.push(err.message));
      await late.goto(`http://127.0.0.1:${run.live.httpPort}/`);
      await late.waitForFunction(() => document.body.dataset.history === 'drawn', undefined, { timeout: 10_000 });
      // Drawn before the page follows the live stream: every point here came from the service's history.
      const drawn = await late.$$eval('.card', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.points)));
      expect(drawn).toHaveLength(3);
      expect(Math.min(...drawn)).toBeGreaterThanOrEqual(4);
      expect(await late.$$eval('.card[data-revision="default/flash-crowd"] .log div', (lines) => lines.length)).toBeGreaterThan(1);
      await late.close();

      // With more than a handful of revisions, nothing opens by itself: only the one clicked is fetched and charted.
      for (let i = 0; i < 20; i++) run.live.service.upsertRevision({ namespace: 'more', name: `idle-${i}` }, { config: {} });
      const big = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      big.on('pageerror', (err) => errors.push(err.message));
      const details: string[] = [];
      big.on('request', (req) => {
        const path = new URL(req.url()).pathname;
        if (/^\/api\/revisions\/[^/]+\/[^/]+$/.test(path)) details.push(path);
      });
      await big.goto(`http://127.0.0.1:${run.live.httpPort}/`);
      await big.waitForFunction(() => document.body.dataset.history === 'drawn' && Number(document.body.dataset.updates ?? 0) >= 1, undefined, { timeout: 10_000 });
      expect(await big.$$eval('#list tbody tr[data-revision]', (rows) => rows.length)).toBe(23);
      expect(await big.$$eval('.card', (cards) => cards.length)).toBe(0);
      expect(details).toEqual([]);
      await big.click('#list tbody tr[data-revision="default/flash-crowd"]');
      await big.waitForFunction(() => document.querySelector<HTMLElement>('.card[data-revision="default/flash-crowd"]')?.dataset.history === 'drawn', undefined, { timeout: 10_000 });
      expect(details).toEqual(['/api/revisions/default/flash-crowd']);
      expect(await big.$$eval('.card canvas', (canvases) => canvases.length)).toBe(2);
      expect(Number(await big.$eval('.card', (c) => (c as HTMLElement).dataset.points))).toBeGreaterThanOrEqual(4);
      // Clicking it again closes it.
      await big.click('#list tbody tr[data-revision="default/flash-crowd"]');
      expect(await big.$$eval('.card', (cards) => cards.length)).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
