import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../src/sim/run.js';
import { parseScenario } from '../src/sim/scenario.js';
import { type BenchResult, medianOf } from './harness.js';
import { timed } from './procs.js';

const KPA = fileURLToPath(new URL('../kpa/main.js', import.meta.url));

const DIURNAL = `
name: bench-diurnal
duration: 24h
seed: 1
revisions:
  - name: web
    workload: {sine: {mean: 50, amplitude: 45, period: 24h}}
    serviceTime: {exponential: {mean: 100ms}}
`;

/** 200 pods of one request each at ρ 0.97, requests queueing at the pods: the cost per event must not grow with the pool. */
const BUSY_POOL = `
name: bench-busy-pool
duration: 5m
seed: 1
revisions:
  - name: pool
    containerConcurrency: 1
    workload: {constant: {rate: 1940}}
    serviceTime: {exponential: {mean: 100ms}}
policies:
  - {name: fixed-200, fixed: {replicas: 200}}
`;

/** A week of the diurnal day, as \`kpa simulate\` runs it (report, timeseries.csv, charts). */
const WEEK = `
name: bench-week
duration: 168h
seed: 1
revisions:
  - name: web
    workload: {sine: {mean: 5, amplitude: 4, period: 24h}}
    serviceTime: {exponential: {mean: 100ms}}
policies:
  - {name: kpa, kpa: {}}
`;

/** Requests simulated per CPU-second of this process (CPU time, not wall: the machine is shared). */
function perCpuSecond(yaml: string, runs: number): { requests: number; wallSeconds: number; perCpuSecond: number[] } {
  const scenario = parseScenario(yaml);
  runScenario({ ...scenario, duration: Math.min(scenario.duration, 600) }); // warm-up
  const rates: number[] = [];
  let requests = 0;
  let wallSeconds = 0;
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const report = runScenario(scenario);
    wallSeconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    requests = report.results.reduce((sum, r) => sum + r.requests.total, 0);
    rates.push(requests / ((used.user + used.system) / 1e6));
  }
  return { requests, wallSeconds, perCpuSecond: rates };
}

/** Simulation speed on one core, the whole engine in the loop (collector, decider, scaler every 2 s), and memory flat in duration. */
export async function run(): Promise<BenchResult[]> {
  const scenario = parseScenario(DIURNAL);
  const heapBefore = process.memoryUsage().heapUsed;
  const day = perCpuSecond(DIURNAL, 3);
  const dayGrowth = process.memoryUsage().heapUsed - heapBefore;
  // Memory flat in duration: the same scenario for an hour vs a day.
  global.gc?.();
  const hourStart = process.memoryUsage().heapUsed;
  runScenario({ ...scenario, duration: 3600 });
  const hourGrowth = process.memoryUsage().heapUsed - hourStart;
  const pool = perCpuSecond(BUSY_POOL, 3);

  const dir = mkdtempSync(join(tmpdir(), 'kpa-bench-sim-'));
  const file = join(dir, 'week.yaml');
  writeFileSync(file, WEEK);
  let week;
  try {
    week = await timed([KPA, 'simulate', file, '--out', join(dir, 'out')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [
    { name: `24 h diurnal day, 50 req/s average (${(day.requests / 1e6).toFixed(2)} M requests), wall`, value: day.wallSeconds, unit: 's', goal: 5, lowerIsBetter: true },
    { name: 'diurnal day: simulated requests per CPU-second', ...medianOf(day.perCpuSecond), unit: 'req/CPU-s', goal: 1_000_000 },
    { name: `200 pods at ρ 0.97, requests queueing at the pods (${(pool.requests / 1e6).toFixed(2)} M requests): per CPU-second`, ...medianOf(pool.perCpuSecond), unit: 'req/CPU-s', goal: 500_000 },
    { name: 'heap growth over the day run', value: Math.max(0, dayGrowth / 1e6), unit: 'MB' },
    { name: 'heap growth over a 1 h run', value: Math.max(0, hourGrowth / 1e6), unit: 'MB' },
    { name: '`kpa simulate` of a 7-day scenario: peak RSS', value: week.maxRssBytes / (1024 * 1024), unit: 'MiB', goal: 200, lowerIsBetter: true },
    { name: '`kpa simulate` of a 7-day scenario: CPU', value: week.cpuSeconds, unit: 's', lowerIsBetter: true },
  ];
}
