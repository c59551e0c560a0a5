import { runScenario } from '../src/sim/run.js';
import { parseScenario } from '../src/sim/scenario.js';
import type { BenchResult } from './harness.js';

const DIURNAL = `
name: bench-diurnal
duration: 24h
seed: 1
revisions:
  - name: web
    workload: {sine: {mean: 50, amplitude: 45, period: 24h}}
    serviceTime: {exponential: {mean: 100ms}}
`;

/** Simulation speed: one core, the whole engine in the loop (collector, decider, scaler every 2 s). */
export async function run(): Promise<BenchResult[]> {
  const scenario = parseScenario(DIURNAL);
  runScenario({ ...scenario, duration: 3600 }); // warm-up
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  const report = runScenario(scenario);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const requests = report.results[0].requests.total;
  // Memory flat in duration: the same scenario for an hour vs a day.
  global.gc?.();
  const hourStart = process.memoryUsage().heapUsed;
  runScenario({ ...scenario, duration: 3600 });
  const hourGrowth = process.memoryUsage().heapUsed - hourStart;
  return [
    { name: `24 h diurnal day, 50 req/s average (${(requests / 1e6).toFixed(2)} M requests)`, value: seconds, unit: 's', goal: 5, lowerIsBetter: true },
    { name: 'simulated requests per second (one core)', value: requests / seconds, unit: 'req/s', goal: 1_000_000 },
    { name: 'heap growth over the day run', value: Math.max(0, (process.memoryUsage().heapUsed - heapBefore) / 1e6), unit: 'MB' },
    { name: 'heap growth over a 1 h run', value: Math.max(0, hourGrowth / 1e6), unit: 'MB' },
  ];
}
