import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveRevision } from '../src/config/revisionConfig.js';
import { MultiScaler } from '../src/decider/multiScaler.js';
import { type LoopResult, REVISIONS, START, statAt } from './decisionLoop.js';
import { type BenchResult, medianOf, medianSeconds } from './harness.js';

/**
 * The engine: stats recorded through MultiScaler, and the decision loop as
 * the service runs it (bench/decisionLoop.ts), each run in a fresh process.
 */
const LOOP_RUNS = 3;
const SECONDS = 60;

/** Stats recorded per second through MultiScaler.record (key lookup included), as the stat server does. */
function recordRate(): number {
  const scalers = new MultiScaler();
  const resolved = resolveRevision({});
  const keys = Array.from({ length: REVISIONS }, (_, i) => ({ namespace: 'bench', name: `rev-${i}` }));
  for (const key of keys) scalers.upsert(key, resolved, START, 3);
  const stats = keys.map((_, i) => statAt(i, 0));
  const seconds = medianSeconds(() => {
    for (let t = 0; t < SECONDS; t++) {
      const now = START + t;
      for (let i = 0; i < REVISIONS; i++) scalers.record(keys[i], now, stats[i]);
    }
  });
  return (REVISIONS * SECONDS) / seconds;
}

/** A fresh process per run: the first ticks are measured before V8 has seen the tick path, as in a service just started. */
function decisionLoops(algorithm: 'linear' | 'weighted'): LoopResult[] {
  return Array.from({ length: LOOP_RUNS }, () => {
    const child = spawnSync(process.execPath, [fileURLToPath(new URL('./decisionLoop.js', import.meta.url)), algorithm], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`decisionLoop ${algorithm} failed: ${child.stderr}`);
    return JSON.parse(child.stdout) as LoopResult;
  });
}

function loopRows(algorithm: 'linear' | 'weighted', goals: { first: number; steady: number }, reference: number): BenchResult[] {
  const runs = decisionLoops(algorithm);
  const row = (phase: 'first' | 'steady', clock: 'cpuRate' | 'wallRate', name: string, goal: number): BenchResult => {
    const { value, spread } = medianOf(runs.map((r) => r[phase][clock]));
    return { name, value, spread, unit: 'decisions/s', goal, reference };
  };
  const warmUp = medianOf(runs.map((r) => r.warmUpCpuMs));
  return [
    { name: `${algorithm} process: the decision path warmed up at creation (MultiScaler's constructor, once per process), CPU`, value: warmUp.value, spread: warmUp.spread, unit: 'ms', lowerIsBetter: true },
    row('first', 'cpuRate', `decide ${REVISIONS} revisions, ${algorithm}: first 10 ticks, per CPU-second`, goals.first),
    row('first', 'wallRate', `decide ${REVISIONS} revisions, ${algorithm}: first 10 ticks, per wall-second`, goals.first),
    row('steady', 'cpuRate', `decide ${REVISIONS} revisions, ${algorithm}: after 1,000 ticks, per CPU-second`, goals.steady),
    row('steady', 'wallRate', `decide ${REVISIONS} revisions, ${algorithm}: after 1,000 ticks, per wall-second`, goals.steady),
  ];
}

export async function run(): Promise<BenchResult[]> {
  return [
    { name: `stats recorded (${REVISIONS} revisions × ${SECONDS} s)`, value: recordRate(), unit: 'stats/s', goal: 2_000_000, reference: 1_300_000 },
    ...loopRows('linear', { first: 2_500_000, steady: 5_000_000 }, 2_430_000),
    ...loopRows('weighted', { first: 1_300_000, steady: 2_000_000 }, 1_270_000),
  ];
}
