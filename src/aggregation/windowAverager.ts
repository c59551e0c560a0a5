/**
 * A sliding-window average over time buckets, as the collector uses it
 * (Knative's `windowAverager`). Times are seconds since the epoch.
 */
export interface WindowAverager {
  record(now: number, value: number): void;
  windowAverage(now: number): number;
  /** True when nothing was recorded within the window before `now`. */
  isEmpty(now: number): boolean;
  /** Changes the window length, keeping the data that still fits. */
  resizeWindow(windowSeconds: number, now: number): void;
}
