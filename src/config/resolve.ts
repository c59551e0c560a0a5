import type { DeciderSpec } from '../decider/spec.js';
import {
  aggregationAlgorithm, type Annotations, annotationFloat, annotationInt32, annotationSeconds, METRIC_CONCURRENCY,
  METRIC_RPS, scalingMetric, ALGORITHM_WEIGHTED,
} from './annotations.js';
import { type AutoscalerConfig, TARGET_MIN } from './autoscalerConfig.js';

/** What Knative's PodAutoscaler carries that the autoscaler reads. */
export interface RevisionSpec {
  annotations: Annotations;
  /** The revision's hard concurrency limit; 0 = unlimited. */
  containerConcurrency: number;
  /** Whether a route references the revision (PA reachability). */
  reachable: boolean;
}

/** The collector's windows for a revision (Knative's Metric spec), in whole seconds. */
export interface MetricSpec {
  stableWindowSeconds: number;
  panicWindowSeconds: number;
  /** "" = linear, or weighted-exponential. */
  aggregationAlgorithm: string;
  /**
   * Whether pods are scraped. Knative does not scrape when target-burst-capacity
   * is -1 (the activator is always in the path and reports every request), and
   * then an empty window is a valid zero rather than "no data".
   */
  scraped: boolean;
}

/** ResolveMetricTarget: the per-pod target and total of the scaling metric. */
export function resolveMetricTarget(rev: RevisionSpec, config: AutoscalerConfig): { target: number; total: number } {
  const metric = scalingMetric(rev.annotations, config);
  let total: number;
  let utilization: number;
  if (metric === METRIC_RPS) {
    total = config.rpsTargetDefault;
    utilization = config.targetUtilization;
  } else {
    total = rev.containerConcurrency === 0 ? config.containerConcurrencyTargetDefault : rev.containerConcurrency;
    utilization = config.containerConcurrencyTargetFraction;
  }
  const annotationTarget = annotationFloat(rev.annotations, 'target');
  if (annotationTarget !== undefined) {
    total = annotationTarget;
    // Never aim above what the container can take.
    if (metric === METRIC_CONCURRENCY && rev.containerConcurrency !== 0) {
      total = Math.min(annotationTarget, rev.containerConcurrency);
    }
  }
  const tu = annotationFloat(rev.annotations, 'targetUtilizationPercentage');
  if (tu !== undefined) utilization = tu / 100;
  return { target: Math.max(TARGET_MIN, total * utilization), total };
}

/** The stable window: the `window` annotation, else the cluster's stable-window. */
export function stableWindowSeconds(rev: RevisionSpec, config: AutoscalerConfig): number {
  return annotationSeconds(rev.annotations, 'window') ?? config.stableWindowSeconds;
}

/** The target burst capacity: the annotation, else the cluster's. */
export function targetBurstCapacity(rev: RevisionSpec, config: AutoscalerConfig): number {
  return annotationFloat(rev.annotations, 'targetBurstCapacity') ?? config.targetBurstCapacity;
}

/** GetInitialScale: the revision's initial-scale (0 only when the cluster allows it), else the cluster's. */
export function initialScale(rev: RevisionSpec, config: AutoscalerConfig): number {
  const v = annotationInt32(rev.annotations, 'initialScale');
  if (v === undefined || (v === 0 && !config.allowZeroInitialScale)) return config.initialScale;
  return v;
}

/** ScaleBounds: min and max scale (0 = unbounded max); min is ignored for an unreachable revision. */
export function scaleBounds(rev: RevisionSpec, config: AutoscalerConfig): { min: number; max: number } {
  const min = rev.reachable ? annotationInt32(rev.annotations, 'minScale') ?? config.minScale : 0;
  const max = annotationInt32(rev.annotations, 'maxScale') ?? config.maxScale;
  return { min, max };
}

/** MakeDecider's spec. */
export function makeDeciderSpec(rev: RevisionSpec, config: AutoscalerConfig): DeciderSpec {
  const panicThresholdPercentage = annotationFloat(rev.annotations, 'panicThresholdPercentage')
    ?? config.panicThresholdPercentage;
  const { target, total } = resolveMetricTarget(rev, config);
  return {
    maxScaleUpRate: config.maxScaleUpRate,
    maxScaleDownRate: config.maxScaleDownRate,
    scalingMetric: scalingMetric(rev.annotations, config),
    targetValue: target,
    totalValue: total,
    targetBurstCapacity: targetBurstCapacity(rev, config),
    activatorCapacity: config.activatorCapacity,
    panicThreshold: panicThresholdPercentage / 100.0,
    stableWindowSeconds: stableWindowSeconds(rev, config),
    scaleDownDelaySeconds: annotationSeconds(rev.annotations, 'scaleDownDelay') ?? config.scaleDownDelaySeconds,
    initialScale: initialScale(rev, config),
    reachable: rev.reachable,
    activationScale: annotationInt32(rev.annotations, 'activationScale') ?? 0,
  };
}

const NANOS = 1e9;

/** MakeMetric's windows: the panic window is a percentage of the stable one, rounded to whole seconds, at least 1 s. */
export function makeMetricSpec(rev: RevisionSpec, config: AutoscalerConfig): MetricSpec {
  const stable = stableWindowSeconds(rev, config);
  const percentage = annotationFloat(rev.annotations, 'panicWindowPercentage') ?? config.panicWindowPercentage;
  // Go: time.Duration(float64(stableWindow) * pct / 100.0).Round(time.Second), in nanoseconds. A NaN
  // percentage passes Knative's range checks; Go's conversion of NaN to int64 gives MinInt64 (amd64), a
  // negative window, which the floor of one bucket turns into 1 s.
  const panicNanos = Math.trunc((stable * NANOS * percentage) / 100.0);
  const panicSeconds = Number.isFinite(panicNanos) ? Math.max(1, roundHalfAwayFromZero(panicNanos / NANOS)) : 1;
  return {
    stableWindowSeconds: stable,
    panicWindowSeconds: panicSeconds,
    aggregationAlgorithm: aggregationAlgorithm(rev.annotations) === ALGORITHM_WEIGHTED ? ALGORITHM_WEIGHTED : '',
    scraped: targetBurstCapacity(rev, config) !== -1,
  };
}

/** Go's math.Round: halves go away from zero. */
export function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}
