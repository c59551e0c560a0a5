/** Indices of the points no other point dominates (both objectives minimized). */
export function paretoFront(points: readonly (readonly [number, number])[]): Set<number> {
  const front = new Set<number>();
  points.forEach(([x, y], i) => {
    const dominated = points.some(([a, b], j) => j !== i && a <= x && b <= y && (a < x || b < y));
    if (!dominated) front.add(i);
  });
  return front;
}
