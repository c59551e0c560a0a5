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
