import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CONFIG_KEYS } from '../config/autoscalerConfig.js';
import { runScenario } from './run.js';
import { loadScenario, type PolicySpec, type Scenario, ScenarioError } from './scenario.js';

/** One `--param KEY=v1,v2,…`: KEY is `config.<config-autoscaler key>` or `annotations.<annotation>`. */
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
  if (!/^(config|annotations)\.[^.].*/.test(key)) {
    throw new SweepParamError(`--param ${key}: KEY must be config.<config-autoscaler key> or annotations.<annotation>`);
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

/** The scenario with only its (first) KPA policy, the overrides applied to it. */
export function applyOverrides(scenario: Scenario, overrides: Readonly<Record<string, string>>): Scenario {
  const base = scenario.policies.find((p) => p.kind === 'kpa') ?? { name: 'kpa', kind: 'kpa' as const, config: {}, annotations: {} };
  if (base.kind !== 'kpa') throw new Error('unreachable');
  const policy: PolicySpec = { ...base, config: { ...base.config }, annotations: { ...base.annotations } };
  for (const [key, value] of Object.entries(overrides)) {
    const [where, ...rest] = key.split('.');
    (where === 'config' ? policy.config : policy.annotations)[rest.join('.')] = value;
  }
  return { ...scenario, policies: [policy] };
}

/** What a sweep keeps of one run (summed or maxed over the revisions). */
export interface SweepResult {
  params: Record<string, string>;
  error?: string;
  coldStarts: number;
  failed: number;
  p99Ms: number;
  podSeconds: number;
  scaleEvents: number;
}

export function runOne(scenarioFile: string, params: Record<string, string>): SweepResult {
  const empty = { params, coldStarts: 0, failed: 0, p99Ms: 0, podSeconds: 0, scaleEvents: 0 };
  try {
    const report = runScenario(applyOverrides(loadScenario(scenarioFile), params));
    return report.results.reduce((acc, r) => ({
      ...acc,
      coldStarts: acc.coldStarts + r.requests.coldStarts,
      failed: acc.failed + r.requests.failed,
      p99Ms: Math.max(acc.p99Ms, r.latencyMs.p99),
      podSeconds: acc.podSeconds + r.podSeconds,
      scaleEvents: acc.scaleEvents + r.scaleEvents,
    }), empty);
  } catch (err) {
    // A bad value fails its own run only; the others go on.
    const e = err as Error;
    return { ...empty, error: err instanceof ScenarioError ? e.message : `${e.name}: ${e.message}` };
  }
}

/** The compiled worker, when running from dist/ (worker_threads cannot load TypeScript on Node 20). */
function workerScript(): string | null {
  const url = new URL('./sweepWorker.js', import.meta.url);
  const path = fileURLToPath(url);
  return existsSync(path) ? path : null;
}

/**
 * Runs the grid, `workers` runs at a time in worker threads (0: in this
 * thread), calling `onProgress` as runs finish. Results are in grid order.
 */
export async function runSweep(scenarioFile: string, runs: readonly Record<string, string>[], workers: number, onProgress: (done: number) => void): Promise<SweepResult[]> {
  const results = new Array<SweepResult>(runs.length);
  let done = 0;
  const script = workerScript();
  if (workers <= 0 || !script) {
    runs.forEach((params, i) => {
      results[i] = runOne(scenarioFile, params);
      onProgress(++done);
    });
    return results;
  }
  let next = 0;
  const lane = async (): Promise<void> => {
    const worker = new Worker(script);
    try {
      while (next < runs.length) {
        const i = next++;
        results[i] = await new Promise<SweepResult>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.postMessage({ scenarioFile, params: runs[i] });
        });
        worker.removeAllListeners('error');
        onProgress(++done);
      }
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, runs.length) }, lane));
  return results;
}

export const defaultWorkers = (runs: number): number => Math.max(1, Math.min(availableParallelism(), runs));
