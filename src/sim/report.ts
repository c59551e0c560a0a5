import type { Summary } from './stats.js';

/** What `kpa simulate` reports per revision and policy (report.json). */
export interface PolicyReport {
  revision: string;
  policy: string;
  /** `failed`: timed out in the activator or a queue, or cut off by a pod's termination; `rejected`: answered 503 (a full queue). */
  requests: { total: number; completed: number; failed: number; rejected: number; coldStarts: number };
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  queueMs: { p50: number; p99: number; mean: number };
  podSeconds: number;
  pods: { max: number; mean: number };
  scaleEvents: number;
  timeInPanicS: number;
  /** Time-average of requests in the system (Little's law: ≈ arrival rate × mean latency). */
  inFlightMean: number;
  /** Latency distribution for charts: [upper bound ms, count]. */
  latencyHistogram: [number, number][];
  /** podSeconds / 3600 (filled in by runScenario). */
  podHours?: number;
  /** podHours × the scenario's costPerPodHour, when it has one. */
  cost?: number;
}

/** One run's figures that `--seeds N` summarizes. */
export interface RunFigures {
  seed: number;
  p50Ms: number;
  p99Ms: number;
  coldStarts: number;
  podSeconds: number;
  failed: number;
  rejected: number;
  cost?: number;
}

/** Mean and 95 % confidence interval (Student's t) of each figure over the seeds, per revision and policy. */
export interface PolicyStatistics {
  revision: string;
  policy: string;
  n: number;
  p50Ms: Summary;
  p99Ms: Summary;
  coldStarts: Summary;
  podSeconds: Summary;
  failed: Summary;
  rejected: Summary;
  cost?: Summary;
  perSeed: RunFigures[];
}

export interface SimulationReport {
  scenario: string;
  seed: number;
  durationS: number;
  /** The scenario's price of a pod for an hour, when it sets one. */
  costPerPodHour?: number;
  /** With --seeds N > 1: the seeds run (results are the first one's). */
  seeds?: number[];
  /** With --seeds N > 1: mean and 95 % interval over the seeds. */
  statistics?: PolicyStatistics[];
  results: PolicyReport[];
}

/** One second of one revision under one policy (timeseries.csv). */
export interface TimeseriesRow {
  t: number;
  revision: string;
  policy: string;
  arrivals: number;
  inFlight: number;
  readyPods: number;
  desiredPods: number;
  stableValue: number | null;
  panicValue: number | null;
  panic: boolean;
  activatorQueue: number;
}

/**
 * What a second has for the charts beyond its CSV row (not written to
 * timeseries.csv). The arrays are only valid during the onSecond call.
 */
export interface SecondExtras {
  /** End-to-end latencies (ms) of the requests completed in this second. */
  latenciesMs: readonly number[];
  /** Requests failed in this second. */
  failed: number;
  /** Requests rejected (503: a full queue) in this second. */
  rejected: number;
}

export const TIMESERIES_COLUMNS = ['t', 'revision', 'policy', 'arrivals', 'inFlight', 'readyPods', 'desiredPods', 'stableValue', 'panicValue', 'panic', 'activatorQueue'] as const;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function timeseriesCsvLine(row: TimeseriesRow): string {
  return `${TIMESERIES_COLUMNS.map((c) => cell(row[c])).join(',')}\n`;
}

export const TIMESERIES_HEADER = `${TIMESERIES_COLUMNS.join(',')}\n`;
