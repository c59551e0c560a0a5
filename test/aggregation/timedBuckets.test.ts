import { describe, expect, it } from 'vitest';
import { TimedBuckets } from '../../src/aggregation/timedBuckets.js';

type Step = { record: [t: number, v: number] } | { average: [t: number, expected: number] } | { empty: [t: number, expected: boolean] };

// Cases follow Knative's bucketing_test.go (TimedFloat64Buckets): partial window after the first write,
// missing seconds as zero, a full window of silence resetting, stale data ignored, rounding to 6 digits.
const cases: { name: string; window: number; steps: Step[] }[] = [
  { name: 'empty buckets average to zero and are empty', window: 5, steps: [{ average: [100, 0] }, { empty: [100, true] }] },
  {
    name: 'a single write is its own average',
    window: 5,
    steps: [{ record: [10, 5] }, { average: [10, 5] }, { empty: [10, false] }],
  },
  {
    name: 'several writes in one second add up',
    window: 5,
    steps: [{ record: [10, 1] }, { record: [10.5, 2] }, { record: [10.99, 3] }, { average: [10.99, 6] }],
  },
  {
    name: 'partial window after the first write averages over the seconds seen',
    window: 5,
    steps: [{ record: [10, 1] }, { record: [11, 2] }, { record: [12, 3] }, { average: [12, 2] }],
  },
  {
    // Knative divides by min(seconds written, window − gap): the gap shortens the window, it is not averaged in.
    name: 'seconds without writes after the last write shorten the window',
    window: 5,
    steps: [{ record: [10, 1] }, { record: [11, 2] }, { record: [12, 3] }, { average: [14, 2] }],
  },
  {
    name: 'a gap after a full window drops the buckets it overwrites',
    window: 5,
    steps: [
      { record: [10, 1] }, { record: [11, 1] }, { record: [12, 1] }, { record: [13, 5] }, { record: [14, 5] },
      { average: [16, 3.666667] },
    ],
  },
  {
    name: 'missing seconds between writes count as zero',
    window: 10,
    steps: [{ record: [10, 4] }, { record: [13, 4] }, { average: [13, 2] }],
  },
  {
    name: 'the window slides: old buckets drop out',
    window: 3,
    steps: [{ record: [10, 3] }, { record: [11, 3] }, { record: [12, 3] }, { record: [13, 9] }, { average: [13, 5] }],
  },
  {
    name: 'a full window of silence resets the average to zero',
    window: 5,
    steps: [{ record: [10, 7] }, { average: [15, 0] }, { empty: [16, true] }, { record: [30, 2] }, { average: [30, 2] }],
  },
  {
    name: 'a write after a long gap starts a new partial window',
    window: 5,
    steps: [{ record: [10, 100] }, { record: [20, 4] }, { record: [21, 2] }, { average: [21, 3] }],
  },
  {
    name: 'a write older than the window is ignored',
    window: 5,
    steps: [{ record: [20, 4] }, { record: [14, 1000] }, { average: [20, 4] }],
  },
  {
    name: 'averages are rounded to 6 digits',
    window: 3,
    steps: [{ record: [10, 1] }, { record: [11, 1] }, { record: [12, 0] }, { average: [12, 0.666667] }],
  },
];

describe('TimedBuckets (linear window average)', () => {
  it.each(cases)('$name', ({ window, steps }) => {
    const buckets = new TimedBuckets(window);
    for (const step of steps) {
      if ('record' in step) buckets.record(...step.record);
      else if ('average' in step) expect(buckets.windowAverage(step.average[0])).toBeCloseTo(step.average[1], 9);
      else expect(buckets.isEmpty(step.empty[0])).toBe(step.empty[1]);
    }
  });

  it('keeps data when the window grows and drops the oldest when it shrinks', () => {
    const buckets = new TimedBuckets(5);
    for (let t = 10; t < 15; t++) buckets.record(t, t - 9); // 1..5
    expect(buckets.windowAverage(14)).toBe(3);
    buckets.resizeWindow(10, 14);
    expect(buckets.windowAverage(14)).toBe(3); // same five seconds of data
    buckets.resizeWindow(2, 14);
    expect(buckets.windowAverage(14)).toBe(4.5); // only the newest two: 4 and 5
  });

  it('forgets everything on resize after a full window of silence', () => {
    const buckets = new TimedBuckets(5);
    buckets.record(10, 5);
    buckets.resizeWindow(20, 30);
    expect(buckets.windowAverage(30)).toBe(0);
    buckets.record(31, 2);
    expect(buckets.windowAverage(31)).toBe(2);
  });
});

describe('TimedBuckets resize near time zero', () => {
  it('shrinking right after t = 0 keeps a finite average', () => {
    const buckets = new TimedBuckets(60);
    buckets.record(0, 6);
    buckets.resizeWindow(10, 1);
    // As Knative, after a resize the window counts as full (first write = last write − old length).
    expect(buckets.windowAverage(0)).toBe(0.6);
    expect(buckets.windowAverage(1)).toBe(0.666667);
  });
});
