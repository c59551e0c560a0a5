import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';

const SCENARIO = `
duration: 60
seed: 3
revisions:
  - name: api
    workload: {constant: {rate: 5}}
    serviceTime: {constant: 0.1}
`;

describe('kpa sweep: a failed run shows as failed, never as zeros', () => {
  it('the table, results.csv and sweep.json say failed with the reason; the exit status is 1', async () => {
    const dir = tempDir('sweep');
    const file = join(dir, 'api.yaml');
    writeFileSync(file, SCENARIO);
    const out = join(dir, 'out');
    const run = await runCli(['sweep', file, '--param', 'config.stable-window=6s,5s', '--workers', '0', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`1 of 2 runs done, 1 failed; wrote ${join(out, 'index.html')}\n`);
    expect(run.stderr).toMatch(/kpa sweep: run \{"config.stable-window":"5s"\} failed: .*stable-window/);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('config.stable-window,coldStarts,failed,p99Ms,podSeconds,scaleEvents,error');
    expect(csv[1]).toMatch(/^6s,\d+,\d+,[\d.]+,[\d.]+,\d+,$/);
    expect(csv[2]).toMatch(/^5s,,,,,,"?failed: .*stable-window/);
    const json = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { results: Record<string, unknown>[] };
    expect(json.results[1]).toEqual({ params: { 'config.stable-window': '5s' }, error: expect.stringMatching(/stable-window/) });
    expect(json.results[0].podSeconds).toBeGreaterThan(0);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('1 of 2 runs failed');
    expect(html).toMatch(/<tr><td>5s<\/td><td colspan="5" class="run-failed">failed: [^<]*stable-window/);
  });

  it('every run fine: exit 0', async () => {
    const dir = tempDir('sweep');
    const file = join(dir, 'api.yaml');
    writeFileSync(file, SCENARIO);
    const run = await runCli(['sweep', file, '--param', 'config.stable-window=6s', '--workers', '0', '--out', join(dir, 'out')]);
    expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^1 of 1 runs done; wrote /) });
  });
});

describe('kpa simulate and kpa sweep: annotations nothing reads are warned of on standard error', () => {
  // (A scenario's unknown config-autoscaler key is already an error there: scenario files are strict.)
  it('a scenario\'s unknown annotation, and a swept one', async () => {
    const dir = tempDir('sim');
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, `${SCENARIO}    annotations: {autoscaling.knative.dev/tagret: "5"}\n`);
    const sim = await runCli(['simulate', file, '--out', join(dir, 'out')]);
    expect(sim.code).toBe(0);
    expect(sim.stderr).toBe(`kpa simulate: ${file}: api: annotation "autoscaling.knative.dev/tagret": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/target"?); ignored\n`);
    const sweep = await runCli(['sweep', file, '--param', 'annotations.autoscaling.knative.dev/windw=6s', '--workers', '0', '--out', join(dir, 'sweep')]);
    expect(sweep.stderr).toContain('kpa sweep: --param: annotation "autoscaling.knative.dev/windw": unknown autoscaling.knative.dev annotation (did you mean "autoscaling.knative.dev/window"?); ignored\n');
    expect(sweep.stderr).toContain(`kpa sweep: ${file}: api: annotation "autoscaling.knative.dev/tagret"`);
  });
});
