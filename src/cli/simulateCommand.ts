import { writeFileSync } from 'node:fs';
import { makeOutputDir, SyncOutputFile } from './outputFiles.js';
import { join } from 'node:path';
import { Recorder } from '../recording/recorder.js';
import { timeseriesCsvLine, TIMESERIES_HEADER } from '../sim/report.js';
import { renderReportHtml, SeriesCollector, trafficChart } from '../sim/reportHtml.js';
import { runScenario } from '../sim/run.js';
import { loadScenario, ScenarioError } from '../sim/scenario.js';
import { scenarioWarnings } from './scenarioWarnings.js';
import { type CommandContext, type OptionTable, parseCommandArgs, UsageError } from './usage.js';

export const SIMULATE_USAGE = `kpa simulate SCENARIO --out DIR [--record FILE]
  Runs a scenario (YAML: workloads, pod model, policies) in virtual time with
  the autoscaler's own engine and writes DIR/report.json, DIR/timeseries.csv,
  DIR/report.html and DIR/traffic.svg. --record writes the KPA engine's input
  as a recording that \`kpa replay\` turns into the same decisions.`;

const SIMULATE_OPTIONS = {
  out: { type: 'string' },
  record: { type: 'string' },
} as const satisfies OptionTable;

export async function simulateCommand(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(ctx.args, SIMULATE_OPTIONS, true);
  if (positionals.length !== 1) throw new UsageError('simulate takes exactly one SCENARIO file');
  if (!values.out) throw new UsageError('--out DIR is required');
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
  const series = new SeriesCollector();
  const report = runScenario(scenario, {
    onSecond: (row) => {
      csv.write(timeseriesCsvLine(row));
      series.add(row);
    },
    recorder: record ? new Recorder({ write: (line) => record.write(line) }) : undefined,
  });
  csv.close();
  record?.close();
  writeFileSync(join(values.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(values.out, 'report.html'), renderReportHtml(report, series));
  writeFileSync(join(values.out, 'traffic.svg'), trafficChart(report.results[0], series));
  for (const r of report.results) {
    ctx.stdout.write(`${r.revision}/${r.policy}: ${r.requests.total} requests, ${r.requests.failed} failed, ${r.requests.coldStarts} cold starts, ` +
      `p99 ${r.latencyMs.p99} ms, ${r.podSeconds} pod-seconds, max ${r.pods.max} pods\n`);
  }
  ctx.stdout.write(`wrote ${join(values.out, 'report.html')}\n`);
  return 0;
}
