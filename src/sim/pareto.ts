/** Indices of the points no other point dominates (both objectives minimized). */
export function paretoFront(points: readonly (readonly [number, number])[]): Set<number> {
  const front = new Set<number>();
  points.forEach(([x, y], i) => {
    const dominated = points.some(([a, b], j) => j !== i && a <= x && b <= y && (a < x || b < y));
    if (!dominated) front.add(i);
  });
  return front;
}

/** An objective's value as a 95 % confidence interval [low, high] (low = high for a single run). */
export type Interval = readonly [number, number];

/**
 * The Pareto front of points known only up to confidence intervals (every
 * objective minimized): point i is dominated only when another point j is
 * better beyond doubt — j's upper bound at or below i's lower bound on every
 * objective, and strictly below on at least one. Overlapping intervals cannot
 * tell two settings apart, so both stay on the front. With zero-width
 * intervals (one seed) this is exactly `paretoFront`; with wider ones the
 * front only grows, since a point dominated by intervals is also dominated
 * by means.
 */
export function paretoFrontIntervals(points: readonly (readonly Interval[])[]): Set<number> {
  const front = new Set<number>();
  const dominates = (p: readonly Interval[], q: readonly Interval[]) =>
    p.every(([, hi], k) => hi <= q[k][0]) && p.some(([, hi], k) => hi < q[k][0]);
  points.forEach((q, i) => {
    if (!points.some((p, j) => j !== i && dominates(p, q))) front.add(i);
  });
  return front;
}
