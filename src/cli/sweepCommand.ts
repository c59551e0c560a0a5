import { writeFileSync } from 'node:fs';
import { makeOutputDir } from './outputFiles.js';
import { join } from 'node:path';
import { scatterChart } from '../charts/svg.js';
import { paretoFrontIntervals } from '../sim/pareto.js';
import { formatSummary } from '../sim/stats.js';
import { loadScenario, ScenarioError } from '../sim/scenario.js';
import { defaultWorkers, grid, interval, parseParam, runSweep, SWEEP_FIGURES, type SweepFigure, type SweepResult, SweepParamError } from '../sim/sweep.js';
import { seedsOption } from './simulateCommand.js';
import { unknownKeyWarnings } from '../config/unknownKeys.js';
import { scenarioWarnings } from './scenarioWarnings.js';
import { type CommandContext, type OptionTable, parseCommandArgs, UsageError } from './usage.js';

export const SWEEP_USAGE = `kpa sweep SCENARIO --param KEY=v1,v2,… [--param …] --out DIR [--workers N] [--seeds N]
  Runs the scenario's KPA policy for every combination of the parameters
  (KEY: config.<config-autoscaler key>, annotations.<annotation> or seed, e.g.
  --param config.stable-window=30s,60s,120s --param annotations.autoscaling.knative.dev/target=5,10)
  in parallel worker threads, and writes DIR/results.csv, DIR/sweep.json and
  DIR/index.html with the Pareto fronts of cold starts and p99 latency against pod-seconds.
  --seeds N runs every point with N seeds (its seed, seed + 1, …) and reports
  means with 95 % confidence intervals; a point leaves the Pareto front only
  when another is better beyond both intervals.
  A run that fails (an invalid value) is listed as failed with its reason, in
  the table and on standard error, and the exit status is then 1.`;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const csvCell = (v: string | number): string => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));

function progressBar(ctx: CommandContext, total: number): (done: number) => void {
  const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true;
  return (done) => {
    if (tty) {
      const width = 30;
      const filled = Math.round((done / total) * width);
      ctx.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
    } else ctx.stderr.write(`sweep: ${done}/${total} runs done\n`);
  };
}

const SWEEP_OPTIONS = {
  param: { type: 'string', multiple: true },
  out: { type: 'string' },
  workers: { type: 'string' },
  seeds: { type: 'string' },
} as const satisfies OptionTable;

export async function sweepCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(ctx.args, SWEEP_OPTIONS, true);
  if (positionals.length !== 1) throw new UsageError('sweep takes exactly one SCENARIO file');
  if (!values.out) throw new UsageError('--out DIR is required');
  let params;
  try {
    params = (values.param ?? []).map(parseParam);
  } catch (err) {
    if (err instanceof SweepParamError) throw new UsageError(err.message);
    throw err;
  }
  if (params.length === 0) throw new UsageError('at least one --param KEY=v1,v2,… is required');
  const swept = Object.fromEntries(params.filter((p) => p.key.startsWith('annotations.')).map((p) => [p.key.slice('annotations.'.length), '']));
  for (const { message } of unknownKeyWarnings({ annotations: swept })) ctx.stderr.write(`kpa sweep: --param: ${message}\n`);
  const file = positionals[0];
  try {
    for (const warning of scenarioWarnings(loadScenario(file))) ctx.stderr.write(`kpa sweep: ${file}: ${warning}\n`);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    ctx.stderr.write(`kpa sweep: ${file}: ${err.message}\n`);
    return 2;
  }
  const seeds = seedsOption(values.seeds);
  const runs = grid(params);
  const workers = values.workers === undefined ? defaultWorkers(runs.length * seeds) : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0) throw new UsageError('--workers must be a whole number ≥ 0');
  makeOutputDir('--out', values.out); // before the runs: a bad --out must not cost a whole sweep
  const results = await runSweep(file, runs, workers, progressBar(ctx, runs.length * seeds), seeds);
  const keys = params.map((p) => p.key);
  // A failed run (an invalid value, a run that threw) has no figures: it shows as failed with its reason, never as zeros.
  // With several seeds the figures are means, each followed by its 95 % interval's bounds.
  const figureColumns = seeds > 1 ? SWEEP_FIGURES.flatMap((k) => [k, `${k}Low`, `${k}High`]) : [...SWEEP_FIGURES];
  const figureCells = (r: SweepResult) => (seeds > 1 && r.stats ? SWEEP_FIGURES.flatMap((k) => [r[k], r.stats![k].low, r.stats![k].high]) : SWEEP_FIGURES.map((k) => r[k]));
  const header = [...keys, ...figureColumns, 'error'];
  const rows = results.map((r) => [...keys.map((k) => r.params[k]),
    ...(r.error === undefined ? [...figureCells(r), ''] : [...figureColumns.map(() => ''), `failed: ${r.error}`])]);
  writeFileSync(join(values.out, 'results.csv'), `${[header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n')}\n`);
  const json = results.map((r) => (r.error === undefined ? r : { params: r.params, error: r.error }));
  writeFileSync(join(values.out, 'sweep.json'), `${JSON.stringify({ scenario: file, params, ...(seeds > 1 ? { seeds } : {}), results: json }, null, 2)}\n`);
  writeFileSync(join(values.out, 'index.html'), sweepHtml(file, keys, results, seeds));
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of failed) ctx.stderr.write(`kpa sweep: run ${JSON.stringify(r.params)} failed: ${r.error}\n`);
  ctx.stdout.write(`${results.length - failed.length} of ${results.length} runs done${failed.length ? `, ${failed.length} failed` : ''}; wrote ${join(values.out, 'index.html')}\n`);
  // A sweep with a failed run is not the comparison that was asked for: exit status 1, after writing what did run.
  return failed.length > 0 ? 1 : 0;
}

function sweepHtml(file: string, keys: string[], results: SweepResult[], seeds: number): string {
  const ok = results.filter((r) => r.error === undefined);
  const failedRuns = results.length - ok.length;
  const label = (r: SweepResult) => keys.map((k) => `${k}=${r.params[k]}`).join(', ');
  const chart = (title: string, k: SweepFigure, yLabel: string) => {
    // On the front unless another point is better beyond both 95 % intervals (with one seed: the plain Pareto rule).
    const front = paretoFrontIntervals(ok.map((r) => [interval(r, 'podSeconds'), interval(r, k)]));
    return scatterChart(title, ok.map((r, i) => ({
      x: r.podSeconds, y: r[k], label: label(r), front: front.has(i),
      ...(r.stats ? { xInterval: interval(r, 'podSeconds'), yInterval: interval(r, k) } : {}),
    })), 'pod-seconds', yLabel, undefined, undefined, seeds <= 1);
  };
  const cells = (values: readonly (string | number)[]) => values.map((v) => `<td>${esc(String(v))}</td>`).join('');
  const figure = (r: SweepResult, k: SweepFigure) => (r.stats ? formatSummary(r.stats[k]) : r[k]);
  const table = `<table><tr>${[...keys, 'cold starts', 'failed requests', 'p99 ms', 'pod-seconds', 'scale events'].map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${
    results.map((r) => `<tr>${cells(keys.map((k) => r.params[k]))}${r.error === undefined
      ? cells(SWEEP_FIGURES.map((k) => figure(r, k)))
      : `<td colspan="5" class="run-failed">failed: ${esc(r.error)}</td>`}</tr>`).join('')}</table>`;
  const rule = seeds > 1
    ? `<p>Every point ran with ${seeds} seeds: figures are means ± the half-width of their 95 % confidence interval (Student's t), bars on the charts. ` +
      'Red points are the Pareto front: a point leaves it only when another point is better beyond doubt, its upper bound at or below this one\'s lower bound on both axes (strictly below on one).</p>'
    : '<p>Red points are the Pareto front: no other setting is better on both axes.</p>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kpa sweep: ${esc(file)}</title><style>body{font:14px sans-serif;margin:24px}` +
    `table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}th{background:#f4f4f4}svg{max-width:100%;height:auto}.run-failed{color:#b00}</style></head><body>` +
    `<h1>kpa sweep: ${esc(file)}</h1>` +
    `${failedRuns ? `<p class="run-failed">${failedRuns} of ${results.length} runs failed (see the table); the charts show the others.</p>` : ''}` +
    `${rule}` +
    `${chart('cold starts vs pod-seconds', 'coldStarts', 'cold starts')}${chart('p99 latency vs pod-seconds', 'p99Ms', 'p99 latency (ms)')}${table}</body></html>\n`;
}
