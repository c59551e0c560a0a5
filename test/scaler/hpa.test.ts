import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  convertDesiredReplicasWithRules, defaultBehavior, defaultScaleDownRules, defaultScaleUpRules, type HpaBehavior, HpaScaler,
  type HpaScalingRules, hpaSpec, type HpaTarget, isWithinTolerance, metricReplicas, milliValue, nilBehaviorScaleUpLimit,
  type PodMetrics, scaleDownLimit, scaleUpLimit,
} from '../../src/scaler/hpa.js';

const TOL = { scaleUp: 0.1, scaleDown: 0.1 };
const pods = (ready: number[], unready = 0, missing = 0): PodMetrics => ({ ready, unready, missing });
const averageValue = (averageValueMilli: number): HpaTarget => ({ type: 'AverageValue', averageValueMilli });
/** The Go tests' CPU pods request 1.0 (1000m). */
const utilization = (averageUtilization: number): HpaTarget => ({ type: 'Utilization', averageUtilization, requestMilli: 1000 });

// replica_calculator_test.go: each case names the Go test it mirrors.
describe('metricReplicas (replica_calculator.go)', () => {
  it.each([
    { go: 'TestReplicaCalcScaleUpCM', current: 3, pods: pods([20000, 10000, 30000]), target: averageValue(15000), want: 4 },
    { go: 'TestReplicaCalcScaleDownCM', current: 5, pods: pods([12000, 12000, 12000, 12000, 12000]), target: averageValue(20000), want: 3 },
    { go: 'TestReplicaCalcToleranceCM', current: 3, pods: pods([20000, 21000, 21000]), target: averageValue(20000), want: 3 },
    // A Pods metric ignores readiness: the unready pod has a metric, so it is counted as ready.
    { go: 'TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale', current: 3, pods: pods([50000, 10000, 30000]), target: averageValue(15000), want: 6 },
    { go: 'TestReplicaCalcScaleUp', current: 3, pods: pods([300, 500, 700]), target: utilization(30), want: 5 },
    { go: 'TestReplicaCalcScaleUpUnreadyLessScale', current: 3, pods: pods([500, 700], 1), target: utilization(30), want: 4 },
    { go: 'TestReplicaCalcScaleUpUnreadyNoScale', current: 3, pods: pods([400], 2), target: utilization(30), want: 3 },
    { go: 'TestReplicaCalcScaleDown', current: 5, pods: pods([100, 300, 500, 250, 250]), target: utilization(50), want: 3 },
    { go: 'TestReplicaCalcScaleDownIgnoreHotCpuPods', current: 5, pods: pods([100, 300, 500], 2), target: utilization(50), want: 2 },
    { go: 'TestReplicaCalcMissingMetrics', current: 4, pods: pods([400, 95], 0, 2), target: utilization(100), want: 3 },
    { go: 'TestReplicaCalcMissingMetricsNoChangeEq', current: 2, pods: pods([1000], 0, 1), target: utilization(100), want: 2 },
    { go: 'TestReplicaCalcMissingMetricsNoChangeGt', current: 2, pods: pods([1900], 0, 1), target: utilization(100), want: 2 },
    { go: 'TestReplicaCalcMissingMetricsNoChangeLt', current: 2, pods: pods([600], 0, 1), target: utilization(100), want: 2 },
    { go: 'TestReplicaCalcMissingMetricsUnreadyScaleUp', current: 3, pods: pods([2000], 1, 1), target: utilization(50), want: 4 },
    { go: 'TestReplicaCalcMissingMetricsUnreadyScaleDown', current: 4, pods: pods([100, 100], 1, 1), target: utilization(50), want: 3 },
    // calcPlainMetricReplicas' rule, no Go case of its own: on a scale-down missing pods count at the target.
    { go: 'calcPlainMetricReplicas: missing at the target on scale-down', current: 3, pods: pods([1000, 1000], 0, 1), target: averageValue(10000), want: 2 },
    // ... and on a scale-up at 0: 10 pods, 1 ready at 10× the target, 9 without a metric: 10 × 1 = no change.
    { go: 'calcPlainMetricReplicas: missing at 0 on scale-up', current: 10, pods: pods([10000], 0, 9), target: averageValue(1000), want: 10 },
  ])('$go', ({ current, pods: p, target, want }) => {
    expect(metricReplicas(current, p, target, TOL)).toBe(want);
  });

  it('no ready pod with a metric: the controller errors and does not scale (TestReplicaCalcEmptyMetrics)', () => {
    expect(metricReplicas(3, pods([], 0, 3), averageValue(1000), TOL)).toBeNull();
    expect(new HpaScaler(hpaSpec(1, 10), averageValue(1000)).step(15, 3, pods([], 0, 3))).toBe(3);
  });

  it('works in integer milli-units: a float metric of 0.20000000000000004 × 10 pods is 200m and gives 2, not ceil(2.0000000000000004) = 3', () => {
    expect(0.20000000000000004 * 10).toBeGreaterThan(2);
    const perPod = milliValue(0.20000000000000004);
    expect(perPod).toBe(200);
    expect(metricReplicas(10, pods(Array(10).fill(perPod)), averageValue(milliValue(1)), TOL)).toBe(2);
    // GetMetricUsageRatio takes the integer mean: 10 pods of 1000m, 1000m, ..., 1009m total 10009m → 1000m → no change.
    expect(metricReplicas(10, pods([...Array(9).fill(1000), 1009]), averageValue(900), { scaleUp: 0, scaleDown: 0 })).toBe(12);
  });

  it('tolerance bounds are inclusive, per direction (Tolerances.isWithin)', () => {
    expect(isWithinTolerance(TOL, 1.1)).toBe(true);
    expect(isWithinTolerance(TOL, 0.9)).toBe(true);
    expect(isWithinTolerance({ scaleUp: 0, scaleDown: 0.1 }, 1.01)).toBe(false);
    expect(metricReplicas(10, pods(Array(10).fill(1050)), averageValue(1000), { scaleUp: 0, scaleDown: 0.1 })).toBe(11);
  });

  it('quantities: MilliValue of decimal targets is exact, finer values round up', () => {
    expect([milliValue(0.7), milliValue(7), milliValue(0.29), milliValue(0.0005)]).toEqual([700, 7000, 290, 1]);
  });
});

// horizontal_test.go, the path without behavior (normalizeDesiredReplicas).
describe('HpaScaler without behavior', () => {
  it.each([
    { current: 5, desired: 7, min: 3, max: 8, want: 7, go: 'prenormalized desired replicas within range' },
    { current: 3, desired: 1, min: 2, max: 8, want: 2, go: 'prenormalized desired replicas < minReplicas' },
    { current: 20, desired: 1000, min: 1, max: 10, want: 10, go: 'maxReplicas is the limit because maxReplicas < scaleUpLimit' },
    { current: 3, desired: 1000, min: 1, max: 2000, want: 6, go: 'scaleUpLimit is the limit because scaleUpLimit < maxReplicas' },
  ])('TestConvertDesiredReplicasWithRules: $go', ({ current, desired, min, max, want }) => {
    expect(convertDesiredReplicasWithRules(current, desired, min, max)).toBe(want);
  });

  it('calculateScaleUpLimit: max(2 × current, 4), whatever the behavior defaults would allow', () => {
    expect([1, 2, 3, 10].map(nilBehaviorScaleUpLimit)).toEqual([4, 4, 6, 20]);
    const hpa = new HpaScaler(hpaSpec(1, 1000), averageValue(1000));
    expect(hpa.reconcile(15, 1, 100)).toBe(4); // the behavior defaults would give max(1 + 4, 2 × 1) = 5
    expect(hpa.reconcile(30, 4, 100)).toBe(8);
    expect(hpa.reconcile(45, 8, 100)).toBe(16);
  });

  it('no scale-down rate limit: straight to the recommendation once the 300 s window has passed', () => {
    const hpa = new HpaScaler(hpaSpec(1, 1000), averageValue(1000));
    expect(hpa.reconcile(0, 100, 1)).toBe(1);
  });

  it('TestNormalizeDesiredReplicas "stabilize - old recommendations": the highest of the last 300 s', () => {
    const hpa = new HpaScaler(hpaSpec(1, 1000), averageValue(1000));
    for (const [t, r] of [[0, 10], [60, 9], [480, 5], [540, 4]]) hpa.reconcile(t, 10, r);
    expect(hpa.reconcile(600, 10, 3)).toBe(5);
  });

  it('stabilizeRecommendation keeps a recommendation exactly 300 s old (not Before the cutoff); the behavior path drops it (not After)', () => {
    const nil = new HpaScaler(hpaSpec(1, 1000), averageValue(1000));
    nil.reconcile(0, 10, 8);
    expect(nil.reconcile(300, 10, 2)).toBe(8);
    const withDefaults = new HpaScaler(hpaSpec(1, 1000, defaultBehavior()), averageValue(1000));
    withDefaults.reconcile(0, 10, 8);
    expect(withDefaults.reconcile(300, 10, 2)).toBe(2);
  });

  it('catches up with a rate-limited recommendation of the last 300 s even when the metric has dropped (stabilizeRecommendation takes the max)', () => {
    const hpa = new HpaScaler(hpaSpec(2, 5), averageValue(10_000));
    expect(hpa.step(0, 2, pods([20_001, 20_001]))).toBe(4); // wants 5, capped at max(2 × 2, 4)
    expect(hpa.step(15, 4, pods([0, 0, 0, 0]))).toBe(5); // wants 0, but 5 is the highest recommendation of the window
  });

  it('reconcileAutoscaler: outside min/max straight back inside; a target at 0 replicas is left alone', () => {
    const hpa = new HpaScaler(hpaSpec(2, 10), averageValue(1000));
    expect(hpa.reconcile(0, 40, 40)).toBe(10);
    expect(hpa.reconcile(15, 1, 1)).toBe(2);
    expect(hpa.reconcile(30, 0, 5)).toBe(0);
  });
});

const rules = (policies: HpaScalingRules['policies'], over: Partial<HpaScalingRules> = {}): HpaScalingRules =>
  ({ stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies, tolerance: 0.1, ...over });
/** generateScalingRules(pods, podsPeriod, percent, percentPeriod, window) of horizontal_test.go. */
const gen = (podsValue: number, podsPeriod: number, percent: number, percentPeriod: number, window: number): HpaScalingRules => rules([
  ...(podsValue ? [{ type: 'Pods' as const, value: podsValue, periodSeconds: podsPeriod }] : []),
  ...(percent ? [{ type: 'Percent' as const, value: percent, periodSeconds: percentPeriod }] : []),
], { stabilizationWindowSeconds: window });
const withBehavior = (min: number, max: number, b: Partial<HpaBehavior>) =>
  new HpaScaler(hpaSpec(min, max, { scaleUp: b.scaleUp ?? defaultScaleUpRules(), scaleDown: b.scaleDown ?? defaultScaleDownRules() }), averageValue(1000));

// horizontal_test.go, the behavior path (normalizeDesiredReplicasWithBehaviors).
describe('HpaScaler with behavior', () => {
  it.each([
    { go: 'scaleUp with default behavior', min: 1, max: 1000, b: {}, current: 10, desired: 50, want: 20 },
    { go: 'scaleUp with pods policy larger than percent policy', min: 1, max: 1000, b: { scaleUp: gen(100, 60, 100, 60, 0) }, current: 10, desired: 500, want: 110 },
    { go: 'scaleUp with percent policy larger than pods policy', min: 1, max: 1000, b: { scaleUp: gen(2, 60, 100, 60, 0) }, current: 10, desired: 500, want: 20 },
    { go: 'scaleUp with percent policy limitation', min: 1, max: 1000, b: { scaleUp: gen(0, 0, 200, 60, 0) }, current: 10, desired: 50, want: 30 },
    { go: 'scaleDown with percent policy larger than pod policy', min: 1, max: 1000, b: { scaleDown: gen(20, 60, 1, 60, 300) }, current: 100, desired: 2, want: 80 },
    { go: 'scaleDown with pod policy larger than percent policy', min: 1, max: 1000, b: { scaleDown: gen(2, 60, 1, 60, 300) }, current: 100, desired: 2, want: 98 },
    { go: 'scaleDown with spec MinReplicas limitation with large percent policy', min: 5, max: 1000, b: { scaleDown: gen(0, 0, 100, 60, 300) }, current: 10, desired: 2, want: 5 },
    { go: 'maxReplicas is the limit because maxReplicas < scaleUpLimit', min: 1, max: 10, b: {}, current: 20, desired: 1000, want: 10 },
  ])('TestScalingWithRules: $go', ({ min, max, b, current, desired, want }) => {
    expect(withBehavior(min, max, b).reconcile(1000, current, desired)).toBe(want);
  });

  // Events as generateEventsUniformDistribution([1, 5, 9], 120) places them: 100, 60 and 20 s ago.
  it('TestConvertDesiredReplicasWithBehaviorRate "scaleUp with pod policy and previous scale up events": 100 − 15 + 150', () => {
    const hpa = withBehavior(1, 1000, { scaleUp: gen(150, 120, 0, 0, 0), scaleDown: gen(0, 0, 100, 15, 0) });
    expect([hpa.reconcile(900, 85, 86), hpa.reconcile(940, 86, 91), hpa.reconcile(980, 91, 100)]).toEqual([86, 91, 100]);
    expect(hpa.reconcile(1000, 100, 500)).toBe(235);
  });

  it('TestConvertDesiredReplicasWithBehaviorRate "scaleDown with percent policy limitation and previous events": (100 + 12) − 50 %', () => {
    // That test bypasses stabilization: a window of 0 here.
    const hpa = withBehavior(1, 1000, { scaleDown: gen(0, 0, 50, 120, 0) });
    expect([hpa.reconcile(900, 112, 110), hpa.reconcile(940, 110, 106), hpa.reconcile(980, 106, 100)]).toEqual([110, 106, 100]);
    expect(hpa.reconcile(1000, 100, 0)).toBe(56);
  });

  it('scale-downs in the period raise the scale-up period start (calculateScaleUpLimitWithScalingRules counts both directions)', () => {
    const hpa = withBehavior(1, 1000, { scaleUp: gen(0, 0, 100, 60, 0), scaleDown: gen(0, 0, 100, 15, 0) });
    expect(hpa.reconcile(0, 20, 10)).toBe(10);
    expect(hpa.reconcile(30, 10, 100)).toBe(40); // started the 60 s period at 20: +100 % → 40
  });

  it('TestCalculateScaleUpLimitWithScalingRules / TestCalculateScaleDownLimitWithBehaviors: selectPolicy Min', () => {
    const min = rules([{ type: 'Pods', value: 2, periodSeconds: 60 }, { type: 'Percent', value: 50, periodSeconds: 60 }], { selectPolicy: 'Min' });
    expect(scaleUpLimit(0, 1, [], [], min)).toBe(2);
    expect(scaleDownLimit(0, 5, [], [], min)).toBe(3);
  });

  it('selectPolicy Disabled: no change in that direction (calculateScale{Up,Down}Limit return current)', () => {
    const hpa = withBehavior(1, 100, { scaleUp: rules(defaultScaleUpRules().policies, { selectPolicy: 'Disabled' }), scaleDown: gen(0, 0, 100, 15, 0) });
    expect(hpa.reconcile(0, 10, 50)).toBe(10);
    expect(hpa.reconcile(15, 10, 2)).toBe(2);
    const noDown = withBehavior(1, 100, { scaleDown: rules([{ type: 'Percent', value: 100, periodSeconds: 15 }], { selectPolicy: 'Disabled' }) });
    expect(noDown.reconcile(0, 10, 1)).toBe(10);
  });

  it('TestNormalizeDesiredReplicasWithBehavior "simple scale down stabilization": the highest of the window', () => {
    const hpa = withBehavior(1, 1000, { scaleDown: rules(defaultScaleDownRules().policies, { stabilizationWindowSeconds: 180 }) });
    hpa.reconcile(880, 100, 4);
    hpa.reconcile(940, 100, 5);
    expect(hpa.reconcile(1000, 100, 3)).toBe(5);
  });

  it('TestNormalizeDesiredReplicasWithBehavior "scale up stabilization, reuse one of obsolete recommendation element": the lowest of the window', () => {
    const hpa = withBehavior(1, 1000, { scaleUp: gen(0, 0, 10000, 15, 300) });
    for (const [t, r] of [[0, 10], [820, 9], [880, 5], [940, 6]]) hpa.reconcile(t, 1, r);
    expect(hpa.reconcile(1000, 1, 100)).toBe(5);
  });
});

describe('HpaScaler invariants', () => {
  const policy = fc.record({ type: fc.constantFrom('Pods' as const, 'Percent' as const), value: fc.integer({ min: 1, max: 200 }), periodSeconds: fc.integer({ min: 1, max: 120 }) });
  const side = fc.record({
    stabilizationWindowSeconds: fc.integer({ min: 0, max: 300 }),
    selectPolicy: fc.constantFrom('Max' as const, 'Min' as const, 'Disabled' as const),
    policies: fc.array(policy, { minLength: 1, maxLength: 3 }),
    tolerance: fc.constantFrom(0, 0.1),
  });

  it('stays within min/max, moves only in the direction of the metric, never in a disabled direction', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 50 }), fc.option(fc.record({ scaleUp: side, scaleDown: side }), { nil: null }),
      fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 3 }),
      (min, extra, behavior, perPod, starting) => {
        const max = min + extra;
        const hpa = new HpaScaler(hpaSpec(min, max, behavior), averageValue(10_000));
        let current = min;
        perPod.forEach((milli, i) => {
          const missing = Math.min(starting, current - 1);
          const next = hpa.step(i * 15, current, pods(Array(current - missing).fill(milli), 0, missing));
          expect(next).toBeGreaterThanOrEqual(min);
          expect(next).toBeLessThanOrEqual(max);
          // Without behavior a low metric may still scale up: see 'catches up with a rate-limited recommendation'.
          if (next > current && behavior) expect(milli).toBeGreaterThan(10_000);
          if (next < current) expect(milli).toBeLessThan(10_000);
          if (next > current && behavior?.scaleUp.selectPolicy === 'Disabled') throw new Error('scaled up with scale-up disabled');
          if (next < current && behavior?.scaleDown.selectPolicy === 'Disabled') throw new Error('scaled down with scale-down disabled');
          current = next;
        });
      },
    ), { numRuns: 300 });
  });
});
