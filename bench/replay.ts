/**
 * `kpa replay` as a user runs it: the built CLI as its own process, timed from
 * spawn to exit (wall), with its CPU time and peak RSS, on the one-day and the
 * fleet recordings (bench/recordings.ts, written to a temp dir first); and the
 * start-up of `kpa replay` of a one-line file, `kpa --help` and
 * `kpa --version`, beside `node -e 0`, the floor no Node program goes under.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchResult, medianOf } from './harness.js';
import { own } from './procs.js';
import { writeFleet, writeOneDay } from './recordings.js';

const KPA = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const USAGE = fileURLToPath(new URL('./usageReport.js', import.meta.url));
const MIB = 1024 * 1024;

interface ProcessRun {
  wallSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
}

/** Runs node with `args` to its end, output discarded; wall from spawn to exit, CPU and peak RSS from the process itself. */
async function timed(args: string[], env: NodeJS.ProcessEnv = process.env, withUsage = true): Promise<ProcessRun> {
  const dir = mkdtempSync(join(tmpdir(), 'kpa-bench-usage-'));
  const usageFile = join(dir, 'usage.json');
  const start = performance.now();
  const child = spawn(process.execPath, withUsage ? ['--import', USAGE, ...args] : args, {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, KPA_BENCH_USAGE: usageFile },
  });
  if (child.pid !== undefined) own(child.pid);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const wallSeconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}`);
  const usage = withUsage ? (JSON.parse(readFileSync(usageFile, 'utf8')) as Omit<ProcessRun, 'wallSeconds'>) : { cpuSeconds: NaN, maxRssBytes: NaN };
  rmSync(dir, { recursive: true, force: true });
  return { wallSeconds, ...usage };
}

async function runs(n: number, args: string[], env?: NodeJS.ProcessEnv, withUsage?: boolean): Promise<ProcessRun[]> {
  const all: ProcessRun[] = [];
  for (let i = 0; i < n; i++) all.push(await timed(args, env, withUsage));
  return all;
}

function replayRows(label: string, all: ProcessRun[], goalSeconds: number, reference: { seconds: number; mib: number }): BenchResult[] {
  const wall = medianOf(all.map((r) => r.wallSeconds));
  const cpu = medianOf(all.map((r) => r.cpuSeconds));
  const rss = medianOf(all.map((r) => r.maxRssBytes / MIB));
  return [
    { name: `${label}: wall`, ...wall, unit: 's', goal: goalSeconds, reference: reference.seconds, lowerIsBetter: true },
    { name: `${label}: CPU`, ...cpu, unit: 's', lowerIsBetter: true },
    { name: `${label}: peak RSS`, ...rss, unit: 'MiB', goal: 64, reference: reference.mib, lowerIsBetter: true },
  ];
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kpa-bench-replay-'));
  try {
    const day = join(dir, 'one-day.jsonl');
    const fleet = join(dir, 'fleet.jsonl');
    const one = join(dir, 'one-line.jsonl');
    const dayLines = writeOneDay(day);
    const fleetLines = writeFleet(fleet);
    writeFileSync(one, '{"type":"revision","t":1700000000,"namespace":"bench","name":"one","ready":1}\n');

    const results = [
      ...replayRows(`replay one day, one revision (${dayLines} lines), whole process`, await runs(5, [KPA, 'replay', day]), 0.5, { seconds: 1.01, mib: 12.5 }),
      ...replayRows(`replay fleet, 100 revisions × 1 h × 3 pods (${fleetLines} lines), whole process`, await runs(3, [KPA, 'replay', fleet]), 3, { seconds: 10.1, mib: 17 }),
    ];
    // Start-up: wall only, without the preload (it is a module load of its own).
    const startup = async (name: string, args: string[], env?: NodeJS.ProcessEnv, goal?: number, reference?: number): Promise<BenchResult> => {
      const all = await runs(15, args, env, false);
      return { name, ...medianOf(all.map((r) => r.wallSeconds)), unit: 's', goal, reference, lowerIsBetter: true };
    };
    results.push(
      await startup('start-up: node -e 0 (no kpa code)', ['-e', '0']),
      await startup('start-up: replay of a one-line file', [KPA, 'replay', one], undefined, 0.15, 0.015),
      await startup('start-up: kpa --help', [KPA, '--help'], undefined, 0.15),
      await startup('start-up: kpa --version', [KPA, '--version'], undefined, 0.15),
    );
    // Node reads NODE_EXTRA_CA_CERTS' file at start, before any kpa code runs (about 50 ms on this machine class).
    if (process.env.NODE_EXTRA_CA_CERTS) {
      const { NODE_EXTRA_CA_CERTS: _certs, ...without } = process.env;
      results.push(
        await startup('start-up: node -e 0, NODE_EXTRA_CA_CERTS unset', ['-e', '0'], without),
        await startup('start-up: replay of a one-line file, NODE_EXTRA_CA_CERTS unset', [KPA, 'replay', one], without, 0.15, 0.015),
      );
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
