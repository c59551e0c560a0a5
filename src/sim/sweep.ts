import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CONFIG_KEYS } from '../config/autoscalerConfig.js';
import { runScenario } from './run.js';
import { loadScenario, type PolicySpec, type Scenario, ScenarioError } from './scenario.js';
import { summarize, type Summary } from './stats.js';

/** One `--param KEY=v1,v2,…`: KEY is `config.<config-autoscaler key>`, `annotations.<annotation>` or `seed`. */
export interface SweepParam {
  key: string;
  values: string[];
}

export class SweepParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepParamError';
  }
}

export function parseParam(text: string): SweepParam {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new SweepParamError(`--param ${JSON.stringify(text)}: expected KEY=v1,v2,…`);
  const key = text.slice(0, eq);
  if (key === 'seed') {
    const values = text.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0) throw new SweepParamError('--param seed: no values');
    const bad = values.find((v) => !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)));
    if (bad !== undefined) throw new SweepParamError(`--param seed: ${JSON.stringify(bad)} is not a whole number ≥ 0`);
    return { key, values };
  }
  if (!/^(config|annotations)\.[^.].*/.test(key)) {
    throw new SweepParamError(`--param ${key}: KEY must be config.<config-autoscaler key>, annotations.<annotation> or seed`);
  }
  if (key.startsWith('config.') && !CONFIG_KEYS.includes(key.slice('config.'.length))) {
    throw new SweepParamError(`--param ${key}: unknown config-autoscaler key (expected one of ${CONFIG_KEYS.join(', ')})`);
  }
  const values = text.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v !== '');
  if (values.length === 0) throw new SweepParamError(`--param ${key}: no values`);
  return { key, values };
}

/** Every combination of the parameters' values. */
export function grid(params: readonly SweepParam[]): Record<string, string>[] {
  return params.reduce<Record<string, string>[]>((runs, p) => runs.flatMap((run) => p.values.map((v) => ({ ...run, [p.key]: v }))), [{}]);
}

/** The scenario with only its (first) KPA policy, the overrides applied to it (`seed` replaces the scenario's seed). */
export function applyOverrides(scenario: Scenario, overrides: Readonly<Record<string, string>>): Scenario {
  const base = scenario.policies.find((p) => p.kind === 'kpa') ?? { name: 'kpa', kind: 'kpa' as const, config: {}, annotations: {} };
  if (base.kind !== 'kpa') throw new Error('unreachable');
  const policy: PolicySpec = { ...base, config: { ...base.config }, annotations: { ...base.annotations } };
  let seed = scenario.seed;
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'seed') {
      seed = Number(value);
      continue;
    }
    const [where, ...rest] = key.split('.');
    (where === 'config' ? policy.config : policy.annotations)[rest.join('.')] = value;
  }
  return { ...scenario, seed, policies: [policy] };
}

/** The figures a sweep keeps of a run (summed or maxed over the revisions). */
export const SWEEP_FIGURES = ['coldStarts', 'failed', 'p99Ms', 'podSeconds', 'scaleEvents'] as const;
export type SweepFigure = (typeof SWEEP_FIGURES)[number];

/** What a sweep keeps of one grid point: one run's figures, or with --seeds N their means and intervals. */
export interface SweepResult {
  params: Record<string, string>;
  error?: string;
  coldStarts: number;
  failed: number;
  p99Ms: number;
  podSeconds: number;
  scaleEvents: number;
  /** With --seeds N > 1: the seeds run, and each figure's mean and 95 % interval (the figures above are the means). */
  seeds?: number[];
  stats?: Record<SweepFigure, Summary>;
}

/**
 * One run of a grid point: `seedOffset` is added to its seed (the scenario's,
 * or the point's `seed` parameter), so --seeds N runs seed … seed + N − 1.
 */
export function runOne(scenarioFile: string, params: Record<string, string>, seedOffset = 0): SweepResult {
  const empty = { params, coldStarts: 0, failed: 0, p99Ms: 0, podSeconds: 0, scaleEvents: 0 };
  try {
    const scenario = applyOverrides(loadScenario(scenarioFile), params);
    const report = runScenario({ ...scenario, seed: scenario.seed + seedOffset });
    return report.results.reduce((acc, r) => ({
      ...acc,
      coldStarts: acc.coldStarts + r.requests.coldStarts,
      failed: acc.failed + r.requests.failed,
      p99Ms: Math.max(acc.p99Ms, r.latencyMs.p99),
      podSeconds: acc.podSeconds + r.podSeconds,
      scaleEvents: acc.scaleEvents + r.scaleEvents,
    }), { ...empty, seeds: [report.seed] });
  } catch (err) {
    // A bad value fails its own run only; the others go on.
    const e = err as Error;
    return { ...empty, error: err instanceof ScenarioError ? e.message : `${e.name}: ${e.message}` };
  }
}

/** A grid point's runs over its seeds as one result: the means and 95 % intervals; failed if any run failed. */
export function combineSeeds(runs: readonly SweepResult[]): SweepResult {
  const failed = runs.find((r) => r.error !== undefined);
  const { params } = runs[0];
  if (failed) return { params, error: failed.error, coldStarts: 0, failed: 0, p99Ms: 0, podSeconds: 0, scaleEvents: 0 };
  if (runs.length === 1) {
    const { seeds: _seeds, ...one } = runs[0];
    return one;
  }
  const stats = Object.fromEntries(SWEEP_FIGURES.map((k) => [k, summarize(runs.map((r) => r[k]))])) as Record<SweepFigure, Summary>;
  return {
    params, ...Object.fromEntries(SWEEP_FIGURES.map((k) => [k, stats[k].mean])) as Record<SweepFigure, number>,
    seeds: runs.flatMap((r) => r.seeds ?? []), stats,
  };
}

/** A figure of a result as an interval: its 95 % interval with several seeds, else the value itself. */
export function interval(r: SweepResult, k: SweepFigure): readonly [number, number] {
  return r.stats ? [r.stats[k].low, r.stats[k].high] : [r[k], r[k]];
}

/** The compiled worker, when running from dist/ (worker_threads cannot load TypeScript on Node 20). */
function workerScript(): string | null {
  const url = new URL('./sweepWorker.js', import.meta.url);
  const path = fileURLToPath(url);
  return existsSync(path) ? path : null;
}

/**
 * Runs the grid, each point `seeds` times (seed, seed + 1, …), `workers`
 * runs at a time in worker threads (0: in this thread), calling `onProgress`
 * as runs finish (out of runs × seeds). Results are in grid order, one per
 * point, its seeds combined.
 */
export async function runSweep(scenarioFile: string, runs: readonly Record<string, string>[], workers: number, onProgress: (done: number) => void, seeds = 1): Promise<SweepResult[]> {
  const tasks = runs.flatMap((params, point) => Array.from({ length: seeds }, (_, seedOffset) => ({ point, params, seedOffset })));
  const done = new Array<SweepResult>(tasks.length);
  let finished = 0;
  const script = workerScript();
  if (workers <= 0 || !script) {
    tasks.forEach((task, i) => {
      done[i] = runOne(scenarioFile, task.params, task.seedOffset);
      onProgress(++finished);
    });
  } else {
    let next = 0;
    const lane = async (): Promise<void> => {
      const worker = new Worker(script);
      try {
        while (next < tasks.length) {
          const i = next++;
          done[i] = await new Promise<SweepResult>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
            worker.postMessage({ scenarioFile, params: tasks[i].params, seedOffset: tasks[i].seedOffset });
          });
          worker.removeAllListeners('error');
          onProgress(++finished);
        }
      } finally {
        await worker.terminate();
      }
    };
    await Promise.all(Array.from({ length: Math.min(workers, tasks.length) }, lane));
  }
  return runs.map((_, point) => combineSeeds(done.slice(point * seeds, (point + 1) * seeds)));
}

export const defaultWorkers = (runs: number): number => Math.max(1, Math.min(availableParallelism(), runs));
