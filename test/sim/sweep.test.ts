import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { paretoFront } from '../../src/sim/pareto.js';
import { parseScenario } from '../../src/sim/scenario.js';
import { applyOverrides, grid, parseParam, runSweep } from '../../src/sim/sweep.js';
import { KPA_BIN, runCli } from '../helpers/cliHarness.js';
import { SWEEP_SCENARIO } from '../helpers/sweepScenario.js';
import { tempDir } from '../helpers/tempDir.js';

const SCENARIO = SWEEP_SCENARIO;

describe('sweep parameters', () => {
  it('parses KEY=v1,v2 and builds the grid', () => {
    const a = parseParam('config.stable-window=30s,60s');
    const b = parseParam('annotations.autoscaling.knative.dev/target=5,10,20');
    expect(a).toEqual({ key: 'config.stable-window', values: ['30s', '60s'] });
    expect(grid([a, b])).toHaveLength(6);
    expect(grid([a, b])[5]).toEqual({ 'config.stable-window': '60s', 'annotations.autoscaling.knative.dev/target': '20' });
  });

  it.each(['stable-window=30s', 'config.stable-window', 'config.stable-window=', 'pods.x=1', 'config.stable-windoww=30s'])('rejects %s', (text) => {
    expect(() => parseParam(text)).toThrow(/--param/);
  });

  it('applies overrides to the KPA policy only', () => {
    const s = applyOverrides(parseScenario(`${SCENARIO}policies: [{name: fixed, fixed: {replicas: 2}}, {name: k, kpa: {config: {stable-window: 30s}}}]`), { 'config.panic-window-percentage': '20', 'annotations.autoscaling.knative.dev/target': '5' });
    expect(s.policies).toEqual([{ name: 'k', kind: 'kpa', config: { 'stable-window': '30s', 'panic-window-percentage': '20' }, annotations: { 'autoscaling.knative.dev/target': '5' } }]);
  });
});

describe('paretoFront', () => {
  it('no front point is dominated, every other point is', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })), { minLength: 1, maxLength: 40 }), (pts) => {
      const front = paretoFront(pts);
      const dominates = (a: readonly [number, number], b: readonly [number, number]) => a[0] <= b[0] && a[1] <= b[1] && (a[0] < b[0] || a[1] < b[1]);
      pts.forEach((p, i) => {
        const dominated = pts.some((q) => dominates(q, p));
        expect(front.has(i)).toBe(!dominated);
      });
      expect(front.size).toBeGreaterThan(0);
    }));
  });
});

describe('kpa sweep', () => {
  const dir = tempDir('sweep');
  const file = join(dir, 'api.yaml');
  writeFileSync(file, SCENARIO);

  it('runs in-process with a failing value reported, not fatal', async () => {
    const progress: number[] = [];
    const results = await runSweep(file, grid([parseParam('config.stable-window=6s,5s,60s')]), 0, (d) => progress.push(d));
    expect(progress).toEqual([1, 2, 3]);
    expect(results[1].error).toMatch(/stable-window/);
    expect(results[0].podSeconds).toBeGreaterThan(0);
    expect(results[2].podSeconds).toBeGreaterThan(results[0].podSeconds); // a longer window scales down later
  });

  it('usage errors exit 2', async () => {
    expect((await runCli(['sweep', file, '--out', dir])).stderr).toMatch(/at least one --param/);
    expect((await runCli(['sweep', file, '--param', 'oops', '--out', dir])).code).toBe(2);
  });

  it('the built CLI runs the grid in worker threads and draws the Pareto fronts', () => {
    const out = join(dir, 'out');
    const r = spawnSync(process.execPath, [KPA_BIN, 'sweep', file, '--param', 'config.stable-window=6s,30s', '--param', 'annotations.autoscaling.knative.dev/target=5,10', '--workers', '2', '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/4\/4 runs done/);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(5);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/Pareto front[\s\S]*<svg[\s\S]*<circle/);
  });
});
