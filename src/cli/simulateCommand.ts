import { writeFileSync } from 'node:fs';
import { makeOutputDir, SyncOutputFile } from './outputFiles.js';
import { join } from 'node:path';
import { Recorder } from '../recording/recorder.js';
import { timeseriesCsvLine, TIMESERIES_HEADER } from '../sim/report.js';
import { renderReportHtml, SeriesCollector, trafficChart } from '../sim/reportHtml.js';
import { runSeeds } from '../sim/run.js';
import { formatSummary } from '../sim/stats.js';
import { loadScenario, ScenarioError } from '../sim/scenario.js';
import { scenarioWarnings } from './scenarioWarnings.js';
import { type CommandContext, type OptionTable, parseCommandArgs, UsageError } from './usage.js';

export const SIMULATE_USAGE = `kpa simulate SCENARIO --out DIR [--record FILE] [--seeds N]
  Runs a scenario (YAML: workloads, pod model, policies) in virtual time with
  the autoscaler's own engine and writes DIR/report.json, DIR/timeseries.csv,
  DIR/report.html and DIR/traffic.svg. --record writes the KPA engine's input
  as a recording that \`kpa replay\` turns into the same decisions.
  --seeds N runs it N times, with the scenario's seed and the N − 1 next ones,
  and reports means with 95 % confidence intervals (Student's t); the
  timeseries, charts and recording are the first seed's.`;

/** --seeds: a whole number from 1 to this. */
export const MAX_SEEDS = 1000;

/** Parses --seeds N (default 1). */
export function seedsOption(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_SEEDS) throw new UsageError(`--seeds must be a whole number from 1 to ${MAX_SEEDS}, got ${JSON.stringify(value)}`);
  return n;
}

const SIMULATE_OPTIONS = {
  out: { type: 'string' },
  record: { type: 'string' },
  seeds: { type: 'string' },
} as const satisfies OptionTable;

export async function simulateCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(ctx.args, SIMULATE_OPTIONS, true);
  if (positionals.length !== 1) throw new UsageError('simulate takes exactly one SCENARIO file');
  if (!values.out) throw new UsageError('--out DIR is required');
  const seeds = seedsOption(values.seeds);
  let scenario;
  try {
    scenario = loadScenario(positionals[0]);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    ctx.stderr.write(`kpa simulate: ${positionals[0]}: ${err.message}\n`);
    return 2;
  }
  for (const warning of scenarioWarnings(scenario)) ctx.stderr.write(`kpa simulate: ${positionals[0]}: ${warning}\n`);
  makeOutputDir('--out', values.out);
  const record = values.record ? new SyncOutputFile('--record', values.record) : null;
  const csv = new SyncOutputFile('--out', join(values.out, 'timeseries.csv'));
  csv.write(TIMESERIES_HEADER);
  // The charts keep fixed-size buckets (memory flat in the duration); the CSV gets every second as it comes.
  const series = new SeriesCollector(scenario.duration);
  const report = runSeeds(scenario, seeds, {
    onSecond: (row, extras) => {
      csv.write(timeseriesCsvLine(row));
      series.add(row, extras);
    },
    recorder: record ? new Recorder({ write: (line) => record.write(line) }) : undefined,
  });
  csv.close();
  record?.close();
  writeFileSync(join(values.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(values.out, 'report.html'), renderReportHtml(report, series, scenario));
  writeFileSync(join(values.out, 'traffic.svg'), trafficChart(report.results[0], series));
  for (const r of report.results) {
    ctx.stdout.write(`${r.revision}/${r.policy}: ${r.requests.total} requests, ${r.requests.failed} failed, ${r.requests.rejected} rejected (503), ${r.requests.coldStarts} cold starts, ` +
      `p99 ${r.latencyMs.p99} ms, ${r.podSeconds} pod-seconds, max ${r.pods.max} pods${r.cost === undefined ? '' : `, cost ${r.cost.toFixed(2)}`}\n`);
  }
  for (const s of report.statistics ?? []) {
    ctx.stdout.write(`${s.revision}/${s.policy} over ${s.n} seeds (mean ± 95 % CI): p99 ${formatSummary(s.p99Ms)} ms, ` +
      `${formatSummary(s.coldStarts)} cold starts, ${formatSummary(s.failed)} failed, ${formatSummary(s.rejected)} rejected, ${formatSummary(s.podSeconds)} pod-seconds\n`);
  }
  ctx.stdout.write(`wrote ${join(values.out, 'report.html')}\n`);
  return 0;
}
