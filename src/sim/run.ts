import type { ScaleResult } from '../decider/decider.js';
import type { Recorder } from '../recording/recorder.js';
import { Random } from './random.js';
import type { SimulationReport, TimeseriesRow } from './report.js';
import type { Scenario } from './scenario.js';
import { RevisionSimulation } from './simulator.js';

export interface RunOptions {
  onSecond?: (row: TimeseriesRow) => void;
  /** Records the KPA policies' engine input (one recording for every revision × KPA policy). */
  recorder?: Recorder;
  /** The recorded policy's decisions, for cross-checks with `kpa replay`. */
  onDecision?: (t: number, result: ScaleResult) => void;
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
      results.push(new RevisionSimulation(scenario, revision, policy, modelRng, arrivalRng, {
        onSecond: options.onSecond, recorder, onDecision: policy === recorded ? options.onDecision : undefined,
      }).run());
    }
  }
  return { scenario: scenario.name, seed: scenario.seed, durationS: scenario.duration, results };
}
