import { describe, expect, it } from 'vitest';
import { autoscalerConfigFromMap } from '../../src/config/autoscalerConfig.js';
import { makeDeciderSpec, makeMetricSpec, resolveMetricTarget, scaleBounds, initialScale, type RevisionSpec } from '../../src/config/resolve.js';
import { resolveRevision } from '../../src/config/revisionConfig.js';

const A = (k: string) => `autoscaling.knative.dev/${k}`;
const rev = (annotations: Record<string, string> = {}, containerConcurrency = 0, reachable = true): RevisionSpec =>
  ({ annotations, containerConcurrency, reachable });
const defaults = autoscalerConfigFromMap({});

// Knative's ResolveMetricTarget (pkg/reconciler/autoscaling/resources/target_test.go).
describe('resolveMetricTarget', () => {
  it.each([
    { name: 'defaults: 100 × 70 %', rev: rev(), target: 70, total: 100 },
    { name: 'containerConcurrency sets the total', rev: rev({}, 10), target: 7, total: 10 },
    { name: 'target annotation', rev: rev({ [A('target')]: '50' }), target: 35, total: 50 },
    { name: 'target annotation capped by containerConcurrency', rev: rev({ [A('target')]: '50' }, 10), target: 7, total: 10 },
    { name: 'target annotation below containerConcurrency', rev: rev({ [A('target')]: '5' }, 10), target: 3.5, total: 5 },
    { name: 'target-utilization-percentage', rev: rev({ [A('target-utilization-percentage')]: '80' }), target: 80, total: 100 },
    { name: 'legacy camelCase utilization', rev: rev({ [A('targetUtilizationPercentage')]: '50' }, 10), target: 5, total: 10 },
    { name: 'rps default: 200 × 70 %', rev: rev({ [A('metric')]: 'rps' }), target: 140, total: 200 },
    { name: 'rps ignores containerConcurrency', rev: rev({ [A('metric')]: 'rps', [A('target')]: '10' }, 1), target: 7, total: 10 },
    { name: 'target never below 0.01', rev: rev({ [A('target')]: '0.01' }), target: 0.01, total: 0.01 },
    // Another class has no default metric (Knative's defaultMetric), so containerConcurrency does not cap the target.
    { name: 'another class: no concurrency cap', rev: rev({ [A('class')]: 'custom.example.com', [A('target')]: '50' }, 10), target: 35, total: 50 },
  ])('$name', ({ rev: r, target, total }) => {
    const got = resolveMetricTarget(r, defaults);
    expect(got.target).toBeCloseTo(target, 9);
    expect(got.total).toBeCloseTo(total, 9);
  });

  it('defaults the class from the cluster config, as the PodAutoscaler webhook does', () => {
    const config = autoscalerConfigFromMap({ 'pod-autoscaler-class': 'hpa.autoscaling.knative.dev' });
    // Class HPA → metric cpu → the target annotation is not capped by containerConcurrency.
    expect(resolveMetricTarget(rev({ [A('target')]: '50' }, 10), config)).toEqual({ target: 35, total: 50 });
    expect(makeDeciderSpec(rev({}, 10), config).scalingMetric).toBe('cpu');
  });

  it('uses the cluster percentage for concurrency', () => {
    const config = autoscalerConfigFromMap({ 'container-concurrency-target-percentage': '50', 'container-concurrency-target-default': '20' });
    expect(resolveMetricTarget(rev(), config)).toEqual({ target: 10, total: 20 });
  });
});

// Knative's MakeDecider / MakeMetric (pkg/reconciler/autoscaling/kpa/resources/decider_test.go, metric_test.go).
describe('makeDeciderSpec and makeMetricSpec', () => {
  it('resolves Knative defaults', () => {
    expect(makeDeciderSpec(rev(), defaults)).toEqual({
      maxScaleUpRate: 1000, maxScaleDownRate: 2, scalingMetric: 'concurrency', targetValue: 70, totalValue: 100,
      targetBurstCapacity: 211, activatorCapacity: 100, panicThreshold: 2, stableWindowSeconds: 60,
      scaleDownDelaySeconds: 0, initialScale: 1, reachable: true, activationScale: 0,
    });
    expect(makeMetricSpec(rev(), defaults)).toEqual({ stableWindowSeconds: 60, panicWindowSeconds: 6, aggregationAlgorithm: '', scraped: true });
  });

  it.each([
    { name: 'panic threshold annotation', anns: { [A('panic-threshold-percentage')]: '150' }, want: { panicThreshold: 1.5 } },
    { name: 'window annotation', anns: { [A('window')]: '10s' }, want: { stableWindowSeconds: 10 } },
    { name: 'scale-down-delay annotation', anns: { [A('scale-down-delay')]: '2m' }, want: { scaleDownDelaySeconds: 120 } },
    { name: 'burst capacity annotation', anns: { [A('target-burst-capacity')]: '-1' }, want: { targetBurstCapacity: -1 } },
    { name: 'activation scale', anns: { [A('activation-scale')]: '3' }, want: { activationScale: 3 } },
    { name: 'initial scale', anns: { [A('initial-scale')]: '4' }, want: { initialScale: 4 } },
  ])('decider: $name', ({ anns, want }) => {
    expect(makeDeciderSpec(rev(anns), defaults)).toMatchObject(want);
  });

  it.each([
    // panic window = round(stable × pct / 100), at least 1 s.
    { name: '10 % of 60 s', anns: {}, stable: 60, panic: 6 },
    { name: '10 % of 6 s rounds 0.6 up to 1', anns: { [A('window')]: '6s' }, stable: 6, panic: 1 },
    { name: '1 % of 6 s is at least 1 s', anns: { [A('window')]: '6s', [A('panic-window-percentage')]: '1' }, stable: 6, panic: 1 },
    { name: '15 % of 10 s rounds half away from zero', anns: { [A('window')]: '10s', [A('panic-window-percentage')]: '15' }, stable: 10, panic: 2 },
    { name: '100 %', anns: { [A('panic-window-percentage')]: '100' }, stable: 60, panic: 60 },
  ])('metric windows: $name', ({ anns, stable, panic }) => {
    expect(makeMetricSpec(rev(anns), defaults)).toMatchObject({ stableWindowSeconds: stable, panicWindowSeconds: panic });
  });

  it('weighted aggregation and unscraped revisions', () => {
    const spec = makeMetricSpec(rev({ [A('metric-aggregation-algorithm')]: 'weighted-exponential', [A('target-burst-capacity')]: '-1' }), defaults);
    expect(spec).toMatchObject({ aggregationAlgorithm: 'weighted-exponential', scraped: false });
  });
});

describe('scaleBounds and initialScale', () => {
  it.each([
    { name: 'defaults', anns: {}, reachable: true, min: 0, max: 0 },
    { name: 'annotations', anns: { [A('min-scale')]: '2', [A('max-scale')]: '9' }, reachable: true, min: 2, max: 9 },
    { name: 'legacy spelling', anns: { [A('minScale')]: '3' }, reachable: true, min: 3, max: 0 },
    { name: 'new spelling wins over legacy', anns: { [A('min-scale')]: '1', [A('minScale')]: '3' }, reachable: true, min: 1, max: 0 },
    { name: 'min ignored when unreachable', anns: { [A('min-scale')]: '2' }, reachable: false, min: 0, max: 0 },
  ])('$name', ({ anns, reachable, min, max }) => {
    expect(scaleBounds(rev(anns, 0, reachable), defaults)).toEqual({ min, max });
  });

  it('initial-scale 0 only counts when the cluster allows it', () => {
    expect(initialScale(rev({ [A('initial-scale')]: '0' }), defaults)).toBe(1);
    const allowing = autoscalerConfigFromMap({ 'allow-zero-initial-scale': 'true' });
    expect(initialScale(rev({ [A('initial-scale')]: '0' }), allowing)).toBe(0);
  });
});

describe('resolveRevision', () => {
  it('validates config and annotations together', () => {
    expect(() => resolveRevision({ config: { 'max-scale-limit': '5', 'max-scale': '5' }, annotations: { [A('max-scale')]: '6' } }))
      .toThrow(/max-scale.*max-scale-limit/);
  });
  // Issue 15: each of these gave desiredPodCount -2147483648 on every decision.
  it.each([
    { name: 'max-scale-down-rate NaN', settings: { config: { 'max-scale-down-rate': 'NaN' } }, key: 'max-scale-down-rate' },
    { name: 'target NaN', settings: { annotations: { [A('target')]: 'NaN' } }, key: A('target') },
  ])('refuses $name, naming the key', ({ settings, key }) => {
    expect(() => resolveRevision(settings)).toThrow(expect.objectContaining({ key }));
  });
  it('resolves a revision with container concurrency', () => {
    const r = resolveRevision({ containerConcurrency: 10, config: { 'stable-window': '30s' } });
    expect(r.decider).toMatchObject({ targetValue: 7, totalValue: 10, stableWindowSeconds: 30 });
    expect(r.metric).toMatchObject({ stableWindowSeconds: 30, panicWindowSeconds: 3 });
  });
});
