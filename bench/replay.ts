/**
 * `kpa replay` as a user runs it: the built CLI as its own process, timed from
 * spawn to exit (wall), with its CPU time and peak RSS, on the one-day and the
 * fleet recordings (bench/recordings.ts, written to a temp dir first); and the
 * start-up of `kpa replay` of a one-line file, `kpa --help` and
 * `kpa --version`, beside `node -e 0`, the floor no Node program goes under,
 * and beside the unbundled build of the same CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchResult, medianOf } from './harness.js';
import { type ProcessRun, timed } from './procs.js';
import { writeFleet, writeOneDay } from './recordings.js';

const KPA = fileURLToPath(new URL('../kpa/main.js', import.meta.url));
// tsc's one file per module, which the bundle above is built from: the start-up a bundle saves.
const UNBUNDLED = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MIB = 1024 * 1024;
const wallOf = (all: ProcessRun[]) => medianOf(all.map((r) => r.wallSeconds));

async function runs(n: number, args: string[], env?: NodeJS.ProcessEnv, withUsage?: boolean): Promise<ProcessRun[]> {
  const all: ProcessRun[] = [];
  for (let i = 0; i < n; i++) all.push(await timed(args, env, withUsage));
  return all;
}

function replayRows(label: string, all: ProcessRun[], goalSeconds: number, reference: { seconds: number; mib: number }): BenchResult[] {
  const wall = wallOf(all);
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
      return { name, ...wallOf(all), unit: 's', goal, reference, lowerIsBetter: true };
    };
    // The bundle and tsc's output taken in turn, so that both see the same moments of a shared machine.
    const bundled: ProcessRun[] = [];
    const unbundled: ProcessRun[] = [];
    for (let i = 0; i < 15; i++) {
      bundled.push(await timed([KPA, 'replay', one], undefined, false));
      unbundled.push(await timed([UNBUNDLED, 'replay', one], undefined, false));
    }
    results.push(
      await startup('start-up: node -e 0 (no kpa code)', ['-e', '0']),
      { name: 'start-up: replay of a one-line file', ...wallOf(bundled), unit: 's', goal: 0.15, reference: 0.015, lowerIsBetter: true },
      { name: 'start-up: replay of a one-line file, unbundled (dist/src), in turn with the above', ...wallOf(unbundled), unit: 's', lowerIsBetter: true },
      { name: 'start-up: unbundled over bundled, run by run', ...medianOf(unbundled.map((r, i) => r.wallSeconds / bundled[i].wallSeconds)), unit: '×' },
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
