import { describe, expect, it } from 'vitest';
import { MaxTimeWindow } from '../../src/aggregation/maxTimeWindow.js';

// Knative's max.TimeWindow (max_time_window_test.go): the maximum of the values recorded
// over the last `duration`, at `granularity` resolution.
const cases: { name: string; duration: number; granularity: number; records: [number, number][]; expected: number }[] = [
  { name: 'nothing recorded is 0', duration: 5, granularity: 1, records: [], expected: 0 },
  { name: 'single value', duration: 5, granularity: 1, records: [[0, 1]], expected: 1 },
  { name: 'ascending values keep the newest', duration: 5, granularity: 1, records: [[0, 1], [1, 2], [2, 3]], expected: 3 },
  { name: 'descending values keep the oldest in the window', duration: 5, granularity: 1, records: [[0, 5], [1, 4], [2, 3]], expected: 5 },
  { name: 'a maximum falls out of the window', duration: 5, granularity: 1, records: [[0, 10], [1, 2], [5, 3]], expected: 3 },
  { name: 'still inside the window just before it expires', duration: 5, granularity: 1, records: [[0, 10], [4, 3]], expected: 10 },
  { name: 'same index keeps the larger value', duration: 5, granularity: 2, records: [[0, 10], [1, 3]], expected: 10 },
  { name: 'granularity groups seconds', duration: 4, granularity: 2, records: [[0, 10], [2, 1], [3, 2], [4, 1]], expected: 2 },
  { name: 'a long gap drops everything old', duration: 10, granularity: 2, records: [[0, 10], [100, 1]], expected: 1 },
  { name: 'values outlived by a larger one are dropped', duration: 6, granularity: 2, records: [[0, 1], [2, 8], [4, 2], [6, 3]], expected: 8 },
  { name: 'the larger value expires after duration/granularity buckets', duration: 6, granularity: 2, records: [[0, 1], [2, 8], [4, 2], [8, 3]], expected: 3 },
];

describe('MaxTimeWindow', () => {
  it.each(cases)('$name', ({ duration, granularity, records, expected }) => {
    const w = new MaxTimeWindow(duration, granularity);
    for (const [t, v] of records) w.record(t, v);
    expect(w.current()).toBe(expected);
  });

  it('matches a brute-force maximum over random sequences', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let run = 0; run < 50; run++) {
      const duration = 2 + Math.floor(rand() * 20);
      const w = new MaxTimeWindow(duration, 2);
      const size = Math.ceil(duration / 2);
      const seen: [number, number][] = [];
      let t = 0;
      for (let i = 0; i < 100; i++) {
        t += Math.floor(rand() * 4);
        const v = Math.floor(rand() * 50);
        w.record(t, v);
        seen.push([Math.floor(t / 2), v]);
        const index = Math.floor(t / 2);
        const expected = Math.max(...seen.filter(([idx]) => index - idx < size).map(([, value]) => value));
        expect(w.current()).toBe(expected);
      }
    }
  });
});
