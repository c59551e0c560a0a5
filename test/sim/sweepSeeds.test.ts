import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/sim/run.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { applyOverrides, grid, parseParam, runSweep } from '../../src/sim/sweep.js';
import { SWEEP_SCENARIO } from '../helpers/sweepScenario.js';
import { tempDir } from '../helpers/tempDir.js';
import { KPA_BIN } from '../helpers/cliHarness.js';

const SCENARIO = SWEEP_SCENARIO;

describe('sweeps over seeds', () => {
  const dir = tempDir('sweep-seeds');
  const file = join(dir, 'api.yaml');
  writeFileSync(file, SCENARIO);

  it('the seed is a --param: each value a point of its own', async () => {
    expect(parseParam('seed=1,2,3')).toEqual({ key: 'seed', values: ['1', '2', '3'] });
    expect(() => parseParam('seed=1,x')).toThrow(/--param seed: "x" is not a whole number/);
    expect(applyOverrides(parseScenario(SCENARIO), { seed: '42' }).seed).toBe(42);
    const results = await runSweep(file, grid([parseParam('seed=9,10')]), 0, () => {});
    const direct = runScenario({ ...parseScenario(SCENARIO), seed: 10 }).results[0];
    expect(results[1].podSeconds).toBe(direct.podSeconds);
    expect(results[0].podSeconds).toBe(runScenario(parseScenario(SCENARIO)).results[0].podSeconds);
    expect(results[0].stats).toBeUndefined();
  });

  it('--seeds N: every point runs with seed … seed + N − 1 and gets means and 95 % intervals', async () => {
    const progress: number[] = [];
    const [r] = await runSweep(file, grid([parseParam('config.stable-window=30s')]), 0, (d) => progress.push(d), 3);
    expect(progress).toEqual([1, 2, 3]);
    expect(r.seeds).toEqual([9, 10, 11]);
    const pods = [9, 10, 11].map((seed) => runScenario({ ...applyOverrides(parseScenario(SCENARIO), { 'config.stable-window': '30s' }), seed }).results[0].podSeconds);
    expect(r.podSeconds).toBeCloseTo(pods.reduce((a, b) => a + b, 0) / 3, 3);
    expect(r.stats!.podSeconds.low).toBeLessThanOrEqual(Math.min(...pods) + 1e-9 + r.stats!.podSeconds.halfWidth);
    expect(r.stats!.podSeconds.n).toBe(3);
    // A failing value fails its point, whatever the seed.
    const [bad] = await runSweep(file, grid([parseParam('config.stable-window=5s')]), 0, () => {}, 2);
    expect(bad.error).toMatch(/stable-window/);
  });

  it('the built CLI: --seeds in worker threads, intervals in results.csv, error bars on the charts', () => {
    const out = join(dir, 'out');
    const r = spawnSync(process.execPath, [KPA_BIN, 'sweep', file, '--param', 'config.stable-window=6s,60s', '--seeds', '3', '--workers', '2', '--out', out], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/6\/6 runs done/);
    expect(r.status).toBe(0);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('config.stable-window,coldStarts,coldStartsLow,coldStartsHigh,failed,failedLow,failedHigh,p99Ms,p99MsLow,p99MsHigh,podSeconds,podSecondsLow,podSecondsHigh,scaleEvents,scaleEventsLow,scaleEventsHigh,error');
    expect(csv).toHaveLength(3);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toMatch(/3 seeds[\s\S]*beyond doubt/);
    expect(html).toMatch(/<line class="ci"/);
    expect(html).toMatch(/\d ± \d/);
    const json = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { seeds: number; results: { seeds: number[] }[] };
    expect(json.seeds).toBe(3);
    expect(json.results[0].seeds).toEqual([9, 10, 11]);
  });
});
