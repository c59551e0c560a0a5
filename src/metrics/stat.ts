/**
 * One report of a pod's (or the activator's) load over the last second: the
 * fields of Knative's `Stat` message. Concurrency is an average over the
 * second, counts are requests in the second.
 */
export interface Stat {
  podName: string;
  averageConcurrentRequests: number;
  /** The part of the concurrency that came through the activator (already counted there). */
  averageProxiedConcurrentRequests: number;
  requestCount: number;
  /** The part of the requests that came through the activator. */
  proxiedRequestCount: number;
  processUptime: number;
  /** Unix seconds when the stat was taken, if the sender set it (not used for bucketing). */
  timestamp?: number;
}

/** The stat name Knative gives the scraper's one-per-revision aggregate. */
export const SCRAPER_POD_NAME = 'service-scraper';

/** The numeric fields of a Stat, in Knative's field order. */
export const STAT_NUMBER_FIELDS = [
  'averageConcurrentRequests',
  'averageProxiedConcurrentRequests',
  'requestCount',
  'proxiedRequestCount',
  'processUptime',
] as const;

/** A stat with every number 0, to fill in. */
export function emptyStat(podName: string): Stat {
  return {
    podName,
    averageConcurrentRequests: 0,
    averageProxiedConcurrentRequests: 0,
    requestCount: 0,
    proxiedRequestCount: 0,
    processUptime: 0,
  };
}

/**
 * The largest values a real pod (or an activator, for a whole revision)
 * reports. Knative refuses only what fails to decode; its windows keep running
 * sums, so one stat of 1e20 skews a revision for as long as it lives. kpa
 * refuses at the edge (stat server and scraper) anything past these.
 */
export interface StatBounds {
  /** Concurrent requests (averageConcurrentRequests, averageProxiedConcurrentRequests). */
  maxConcurrency: number;
  /** Requests in one second (requestCount, proxiedRequestCount). */
  maxRequestsPerSecond: number;
}

export const DEFAULT_STAT_BOUNDS: StatBounds = Object.freeze({ maxConcurrency: 1e6, maxRequestsPerSecond: 1e8 });

/** Why a stat or a frame was refused: the label of `kpa_stats_rejected_total`. */
export type StatRejectReason =
  | 'not-finite' | 'negative' | 'above-bound' | 'missing-field' | 'malformed' | 'too-many-messages';

/** A refused stat, as a plain value (no Error, no stack: refusing must cost less than accepting). */
export interface StatRejection {
  readonly reason: StatRejectReason;
  /** The field at fault, e.g. `averageConcurrentRequests`, or `frame`. */
  readonly field: string;
  readonly value?: number;
}

function boundOf(field: (typeof STAT_NUMBER_FIELDS)[number], bounds: StatBounds): number {
  switch (field) {
    case 'averageConcurrentRequests':
    case 'averageProxiedConcurrentRequests':
      return bounds.maxConcurrency;
    case 'requestCount':
    case 'proxiedRequestCount':
      return bounds.maxRequestsPerSecond;
    case 'processUptime':
      return Number.MAX_VALUE;
  }
}

/** The first number of `stat` that is not finite, negative, or past its bound; null when all are fine. */
export function checkStat(stat: Stat, bounds: StatBounds): StatRejection | null {
  for (const field of STAT_NUMBER_FIELDS) {
    const value = stat[field];
    if (value >= 0 && value <= boundOf(field, bounds)) continue;
    const reason: StatRejectReason = Number.isNaN(value) || value === Infinity || value === -Infinity
      ? 'not-finite'
      : value < 0 ? 'negative' : 'above-bound';
    return { reason, field, value };
  }
  return null;
}

/** One line saying what was refused, for logs and scrape errors. */
export function describeRejection(r: StatRejection, bounds: StatBounds): string {
  switch (r.reason) {
    case 'not-finite': return `${r.field} must be a finite number, got ${r.value}`;
    case 'negative': return `${r.field} must be ≥ 0, got ${r.value}`;
    case 'above-bound': {
      const bound = r.field.includes('Concurrent') ? bounds.maxConcurrency : bounds.maxRequestsPerSecond;
      return `${r.field} ${r.value} is above the bound ${bound} no real pod reports`;
    }
    case 'missing-field': return `${r.field} is missing`;
    case 'malformed': return `${r.field} is malformed`;
    case 'too-many-messages': return `the ${r.field} holds more messages than the cap per frame (at least ${r.value})`;
  }
}
