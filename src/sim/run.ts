import type { ScaleResult } from '../decider/decider.js';
import type { Recorder } from '../recording/recorder.js';
import { Random } from './random.js';
import type { PolicyReport, PolicyStatistics, RunFigures, SecondExtras, SimulationReport, TimeseriesRow } from './report.js';
import type { Scenario } from './scenario.js';
import { RevisionSimulation } from './simulator.js';
import { summarize } from './stats.js';

export interface RunOptions {
  onSecond?: (row: TimeseriesRow, extras: SecondExtras) => void;
  /** Records the KPA policies' engine input (one recording for every revision × KPA policy). */
  recorder?: Recorder;
  /** The recorded policy's decisions, for cross-checks with `kpa replay`. */
  onDecision?: (t: number, result: ScaleResult) => void;
}

const round = (x: number, d = 3) => Number(x.toFixed(d));

/** Pod-hours, and their cost when the scenario prices a pod-hour; placed after podSeconds in report.json. */
function withCost(r: PolicyReport, costPerPodHour: number | undefined): PolicyReport {
  const { latencyHistogram, ...rest } = r;
  const podHours = round(r.podSeconds / 3600, 4);
  return { ...rest, podHours, ...(costPerPodHour === undefined ? {} : { cost: round(podHours * costPerPodHour, 4) }), latencyHistogram };
}

/**
 * Runs every revision under every policy on the same workload and seed: the
 * arrivals of a revision come from one stream shared by all policies, and
 * each (revision, policy) pair has its own stream for service times and cold
 * starts, so adding a policy changes nobody else's results.
 */
export function runScenario(scenario: Scenario, options: RunOptions = {}): SimulationReport {
  const results = [];
  // Only the first KPA policy is recorded: a recording holds one autoscaler per revision.
  const recorded = scenario.policies.find((p) => p.kind === 'kpa');
  for (const [ri, revision] of scenario.revisions.entries()) {
    for (const [pi, policy] of scenario.policies.entries()) {
      const arrivalRng = new Random(scenario.seed).fork(2 * ri);
      const modelRng = new Random(scenario.seed).fork(2 * ri + 1).fork(pi);
      const recorder = policy === recorded ? options.recorder : undefined;
      results.push(withCost(new RevisionSimulation(scenario, revision, policy, modelRng, arrivalRng, {
        onSecond: options.onSecond, recorder, onDecision: policy === recorded ? options.onDecision : undefined,
      }).run(), scenario.costPerPodHour));
    }
  }
  return {
    scenario: scenario.name, seed: scenario.seed, durationS: scenario.duration,
    ...(scenario.costPerPodHour === undefined ? {} : { costPerPodHour: scenario.costPerPodHour }), results,
  };
}

/** The seeds of `--seeds N`: the scenario's seed and the next N − 1 integers. */
export function seedList(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => seed + i);
}

/** The figures of one run that repeated runs summarize. */
export function runFigures(r: PolicyReport, seed: number): RunFigures {
  return {
    seed, p50Ms: r.latencyMs.p50, p99Ms: r.latencyMs.p99, coldStarts: r.requests.coldStarts, podSeconds: r.podSeconds, failed: r.requests.failed,
    rejected: r.requests.rejected, ...(r.cost === undefined ? {} : { cost: r.cost }),
  };
}

/** Per revision and policy, the mean and 95 % interval of each figure over the runs (one report per seed). */
export function seedStatistics(reports: readonly SimulationReport[]): PolicyStatistics[] {
  return reports[0].results.map((first, i) => {
    const runs = reports.map((rep) => runFigures(rep.results[i], rep.seed));
    const of = (key: keyof Omit<RunFigures, 'seed'>) => summarize(runs.map((f) => f[key] ?? 0));
    return {
      revision: first.revision, policy: first.policy, n: runs.length,
      p50Ms: of('p50Ms'), p99Ms: of('p99Ms'), coldStarts: of('coldStarts'), podSeconds: of('podSeconds'), failed: of('failed'),
      rejected: of('rejected'),
      ...(runs[0].cost === undefined ? {} : { cost: of('cost') }),
      perSeed: runs,
    };
  });
}

/**
 * `--seeds N`: the scenario with seeds seed, seed + 1, …, seed + N − 1. The
 * first run gets `options` (the timeseries, charts and recording show it);
 * its report is returned with the seeds and, for N > 1, the statistics.
 * Each run draws everything of its own from its seed (arrivals, service
 * times, cold starts, scrape samples); what the scenario file fixed at load
 * (an Azure trace's spreading within each minute) stays as loaded.
 */
export function runSeeds(scenario: Scenario, n: number, options: RunOptions = {}): SimulationReport {
  const reports = seedList(scenario.seed, n).map((seed, i) => runScenario({ ...scenario, seed }, i === 0 ? options : {}));
  if (n < 2) return reports[0];
  const { results, ...head } = reports[0];
  return { ...head, seeds: reports.map((r) => r.seed), statistics: seedStatistics(reports), results };
}
