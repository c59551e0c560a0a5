import { describe, expect, it } from 'vitest';
import { Decider, goInt32, type Decision, type ScaleResult } from '../../src/decider/decider.js';
import { deciderSpec, FakeMetrics } from '../helpers/engine.js';

function valid(result: ScaleResult): Decision {
  if (!result.valid) throw new Error(`expected a decision, got ${result.reason}`);
  return result;
}

// Single-tick cases from Knative's pkg/autoscaler/scaling/autoscaler_test.go.
const singleTick: {
  name: string; spec?: Parameters<typeof deciderSpec>[0]; stable: number; panic?: number; ready: number;
  want: number; ebc?: number; panicking?: boolean;
}[] = [
  { name: 'no load, one pod, scales to zero', stable: 0, ready: 1, want: 0 },
  { name: 'exactly target', stable: 10, ready: 1, want: 1 },
  { name: 'just over target adds a pod', stable: 10.5, ready: 1, want: 2 },
  { name: 'stable wants 5', stable: 50, panic: 50, ready: 5, want: 5 },
  { name: 'scale-up limited by max-scale-up-rate', spec: { maxScaleUpRate: 2 }, stable: 100, panic: 10, ready: 2, want: 4 },
  { name: 'scale-down limited by max-scale-down-rate', spec: { maxScaleDownRate: 2 }, stable: 0, ready: 10, want: 5 },
  { name: 'scale-down limit ignored when unreachable', spec: { reachable: false }, stable: 0, ready: 10, want: 0 },
  { name: 'ready 0 counts as 1 for rates', spec: { maxScaleUpRate: 2 }, stable: 100, panic: 10, ready: 0, want: 2 },
  { name: 'panic entered at 2× the ready pods', stable: 10, panic: 20, ready: 1, want: 2, panicking: true },
  { name: 'below the panic threshold stays stable', stable: 10, panic: 29, ready: 2, want: 1, panicking: false },
  { name: 'panic threshold 1.5', spec: { panicThreshold: 1.5 }, stable: 10, panic: 15, ready: 1, want: 2, panicking: true },
  { name: 'activation scale lifts a small count', spec: { activationScale: 3 }, stable: 5, panic: 5, ready: 1, want: 3 },
  { name: 'activation scale does not lift zero', spec: { activationScale: 3 }, stable: 0, ready: 1, want: 0 },
  { name: 'rps metric', spec: { scalingMetric: 'rps', targetValue: 1 }, stable: 7.5, panic: 7.5, ready: 8, want: 8 },
  // EBC = floor(ready × total − TBC − panic).
  { name: 'excess burst capacity', spec: { targetBurstCapacity: 50 }, stable: 10, panic: 10, ready: 1, want: 1, ebc: 40 },
  { name: 'negative excess burst capacity', spec: { targetBurstCapacity: 211 }, stable: 10, panic: 10, ready: 1, want: 1, ebc: -121 },
  { name: 'EBC floors', spec: { targetBurstCapacity: 10, totalValue: 10.5 }, stable: 5, panic: 0.25, ready: 2, want: 1, ebc: 10 },
  { name: 'TBC -1 keeps EBC at -1', spec: { targetBurstCapacity: -1 }, stable: 10, panic: 10, ready: 1, want: 1, ebc: -1 },
  { name: 'TBC 0 keeps EBC at 0', spec: { targetBurstCapacity: 0 }, stable: 10, panic: 10, ready: 1, want: 1, ebc: 0 },
];

describe('Decider.scale — single tick', () => {
  it.each(singleTick)('$name', ({ spec, stable, panic, ready, want, ebc, panicking }) => {
    const decider = new Decider(deciderSpec(spec), new FakeMetrics(stable, panic ?? stable), 1, 0);
    const d = valid(decider.scale(2, ready));
    expect(d.desiredPodCount).toBe(want);
    if (ebc !== undefined) expect(d.excessBurstCapacity).toBe(ebc);
    if (panicking !== undefined) expect(d.panic).toBe(panicking);
  });

  it('no data is an invalid result, not a scale to zero', () => {
    const decider = new Decider(deciderSpec(), new FakeMetrics(0, 0, false), 1, 0);
    expect(decider.scale(2, 1)).toEqual({ valid: false, reason: 'no-data' });
  });

  // Knative's int32(ceil(x)) turns a desired count past int32 into MinInt32 and calls it valid.
  it.each([
    { name: 'a desired count past int32', stable: 1e308, panic: 1e308, ready: 3_000_000, spec: { maxScaleUpRate: 1000 } },
    { name: 'an infinite stable value', stable: Infinity, panic: 10 },
    { name: 'an infinite panic value', stable: 10, panic: Infinity },
    { name: 'a huge value with max-scale-up-rate Inf', stable: 1e20, panic: 1e20, spec: { maxScaleUpRate: Infinity } },
  ])('$name is out of range, never a valid negative count', ({ stable, panic, spec, ready }: {
    stable: number; panic: number; spec?: Parameters<typeof deciderSpec>[0]; ready?: number;
  }) => {
    const decider = new Decider(deciderSpec(spec), new FakeMetrics(stable, panic), 1, 0);
    expect(decider.scale(2, ready ?? 1)).toEqual({ valid: false, reason: 'out-of-range' });
    // The refusal leaves the panic state alone.
    expect(decider.inPanic).toBe(false);
  });
});

describe('Decider.scale — panic mode', () => {
  it('a fresh decider with more than one ready pod starts in panic holding that count', () => {
    const decider = new Decider(deciderSpec(), new FakeMetrics(0, 0), 5, 0);
    expect(decider.inPanic).toBe(true);
    const d = valid(decider.scale(2, 5));
    expect(d).toMatchObject({ desiredPodCount: 5, panic: true });
  });

  it('a fresh decider with one ready pod does not panic', () => {
    expect(new Decider(deciderSpec(), new FakeMetrics(), 1, 0).inPanic).toBe(false);
  });

  it('never scales down while panicking, and leaves panic one stable window after the last over-threshold tick', () => {
    const metrics = new FakeMetrics();
    const decider = new Decider(deciderSpec({ stableWindowSeconds: 60 }), metrics, 1, 0);
    expect(valid(decider.scale(0, 1))).toMatchObject({ desiredPodCount: 0, panic: false });
    metrics.set(50, 100); // panic wants 10 pods ≥ 2 × 1 ready
    expect(valid(decider.scale(2, 1))).toMatchObject({ desiredPodCount: 10, panic: true });
    metrics.set(50, 20); // under threshold for 10 ready, but panic holds the maximum
    expect(valid(decider.scale(4, 10))).toMatchObject({ desiredPodCount: 10, panic: true });
    metrics.set(10, 10);
    expect(valid(decider.scale(62, 10))).toMatchObject({ desiredPodCount: 10, panic: true }); // 2 + 60 is not past yet
    expect(valid(decider.scale(63, 10))).toMatchObject({ desiredPodCount: 5, panic: false }); // out; rate-limited to 10/2
  });

  it('panic grows with the panic window and keeps the maximum', () => {
    const metrics = new FakeMetrics(10, 40);
    const decider = new Decider(deciderSpec(), metrics, 1, 0);
    expect(valid(decider.scale(2, 1)).desiredPodCount).toBe(4);
    metrics.set(10, 80);
    expect(valid(decider.scale(4, 2)).desiredPodCount).toBe(8);
    metrics.set(10, 30);
    expect(valid(decider.scale(6, 8)).desiredPodCount).toBe(8);
  });

  it('an over-threshold tick extends the panic', () => {
    const metrics = new FakeMetrics(10, 40);
    const decider = new Decider(deciderSpec({ stableWindowSeconds: 10 }), metrics, 1, 0);
    decider.scale(0, 1);
    metrics.set(40, 80); // 8 pods wanted on 4 ready: still ≥ 2×
    decider.scale(8, 4);
    metrics.set(0, 0);
    expect(valid(decider.scale(17, 8)).panic).toBe(true);
    expect(valid(decider.scale(19, 8)).panic).toBe(false);
  });
});

describe('Decider.scale — scale-down delay', () => {
  it('holds the highest count of the delay window, then drops', () => {
    const metrics = new FakeMetrics(50, 50);
    const decider = new Decider(deciderSpec({ scaleDownDelaySeconds: 10, maxScaleDownRate: 100, panicThreshold: 10 }), metrics, 1, 0);
    expect(valid(decider.scale(0, 1)).desiredPodCount).toBe(5);
    metrics.set(10, 10);
    const held = valid(decider.scale(2, 5));
    expect(held).toMatchObject({ desiredPodCount: 5, delayedFrom: 1 });
    expect(valid(decider.scale(8, 5)).desiredPodCount).toBe(5);
    expect(valid(decider.scale(10, 5))).toMatchObject({ desiredPodCount: 1, delayedFrom: null });
  });

  it('does not delay an unreachable revision', () => {
    const metrics = new FakeMetrics(50, 50);
    const decider = new Decider(deciderSpec({ scaleDownDelaySeconds: 10, reachable: false, panicThreshold: 10 }), metrics, 1, 0);
    decider.scale(0, 1);
    metrics.set(0, 0);
    expect(valid(decider.scale(2, 5)).desiredPodCount).toBe(0);
  });
});

describe('goInt32', () => {
  it.each([
    [1.9, 1], [-1.9, -1], [2147483647, 2147483647], [2147483648, -2147483648], [Number.NaN, -2147483648], [Infinity, -2147483648],
  ])('%s → %s', (input, want) => expect(goInt32(input)).toBe(want));
});
