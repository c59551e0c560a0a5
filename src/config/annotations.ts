import { ConfigError, NON_FINITE_RULE } from './errors.js';
import {
  type AutoscalerConfig, HPA_CLASS, KPA_CLASS, PANIC_THRESHOLD_PERCENTAGE_MAX, PANIC_THRESHOLD_PERCENTAGE_MIN,
  PANIC_WINDOW_PERCENTAGE_MAX, PANIC_WINDOW_PERCENTAGE_MIN, TARGET_MIN, WINDOW_MAX_SECONDS, WINDOW_MIN_SECONDS,
} from './autoscalerConfig.js';
import { NANOS_PER_SECOND, parseGoAtoi, parseGoDurationNanos, parseGoFloat, parseGoInt } from './goParse.js';

export type Annotations = Readonly<Record<string, string>>;

const GROUP = 'autoscaling.knative.dev';

/**
 * Each annotation with the legacy camelCase spellings Knative still reads, in
 * priority order (knative.dev/pkg/kmap.KeyPriority): the first one present wins.
 */
export const ANNOTATION = {
  class: [`${GROUP}/class`],
  minScale: [`${GROUP}/min-scale`, `${GROUP}/minScale`],
  maxScale: [`${GROUP}/max-scale`, `${GROUP}/maxScale`],
  initialScale: [`${GROUP}/initial-scale`, `${GROUP}/initialScale`],
  activationScale: [`${GROUP}/activation-scale`],
  scaleDownDelay: [`${GROUP}/scale-down-delay`, `${GROUP}/scaleDownDelay`],
  metric: [`${GROUP}/metric`],
  target: [`${GROUP}/target`],
  targetUtilizationPercentage: [`${GROUP}/target-utilization-percentage`, `${GROUP}/targetUtilizationPercentage`],
  targetBurstCapacity: [`${GROUP}/target-burst-capacity`, `${GROUP}/targetBurstCapacity`],
  window: [`${GROUP}/window`],
  panicWindowPercentage: [`${GROUP}/panic-window-percentage`, `${GROUP}/panicWindowPercentage`],
  panicThresholdPercentage: [`${GROUP}/panic-threshold-percentage`, `${GROUP}/panicThresholdPercentage`],
  scaleToZeroPodRetentionPeriod: [
    `${GROUP}/scale-to-zero-pod-retention-period`, `${GROUP}/scaleToZeroPodRetentionPeriod`,
  ],
  metricAggregationAlgorithm: [`${GROUP}/metric-aggregation-algorithm`, `${GROUP}/metricAggregationAlgorithm`],
  progressDeadline: ['serving.knative.dev/progress-deadline'],
} as const satisfies Record<string, readonly string[]>;

export type AnnotationName = keyof typeof ANNOTATION;

export const METRIC_CONCURRENCY = 'concurrency';
export const METRIC_RPS = 'rps';
export const ALGORITHM_LINEAR = 'linear';
export const ALGORITHM_WEIGHTED = 'weighted-exponential';
const ALGORITHM_WEIGHTED_ALT = 'weightedExponential';

/** The first present key of an annotation and its value (kmap.KeyPriority.Get). */
export function getAnnotation(anns: Annotations, name: AnnotationName): { key: string; value: string } | undefined {
  for (const key of ANNOTATION[name]) {
    if (Object.prototype.hasOwnProperty.call(anns, key)) return { key, value: anns[key] };
  }
  return undefined;
}

// Lenient readers, as the PodAutoscaler's accessors: a value that does not parse is "not set".
export function annotationFloat(anns: Annotations, name: AnnotationName): number | undefined {
  const a = getAnnotation(anns, name);
  return a === undefined ? undefined : parseGoFloat(a.value);
}
export function annotationInt32(anns: Annotations, name: AnnotationName): number | undefined {
  const a = getAnnotation(anns, name);
  return a === undefined ? undefined : parseGoInt(a.value, 32);
}

/** A duration annotation in seconds. */
export function annotationSeconds(anns: Annotations, name: AnnotationName): number | undefined {
  const a = getAnnotation(anns, name);
  const nanos = a === undefined ? undefined : parseGoDurationNanos(a.value);
  return nanos === undefined ? undefined : Number(nanos) / 1e9;
}

/**
 * The scaling metric of the PodAutoscaler Knative makes for the revision: the
 * annotation, else its class's default (Knative's defaultMetric: concurrency
 * for KPA, cpu for HPA, none for any other class), the class itself defaulted
 * from the cluster's pod-autoscaler-class as the PodAutoscaler webhook does.
 * A metric other than rps scales on concurrency.
 */
export function scalingMetric(anns: Annotations, config: AutoscalerConfig): string {
  const key = ANNOTATION.metric[0];
  if (Object.prototype.hasOwnProperty.call(anns, key)) return anns[key];
  const cls = Object.prototype.hasOwnProperty.call(anns, ANNOTATION.class[0]) ? anns[ANNOTATION.class[0]] : config.podAutoscalerClass;
  if (cls === KPA_CLASS) return METRIC_CONCURRENCY;
  return cls === HPA_CLASS ? 'cpu' : '';
}

/** The metric aggregation algorithm, normalized ("" = linear). */
export function aggregationAlgorithm(anns: Annotations): string {
  const a = getAnnotation(anns, 'metricAggregationAlgorithm');
  if (a === undefined) return '';
  return a.value === ALGORITHM_WEIGHTED_ALT ? ALGORITHM_WEIGHTED : a.value;
}

/**
 * Knative's ValidateAnnotations (pkg/apis/autoscaling/annotation_validation.go)
 * for a PodAutoscaler: its class is defaulted from the cluster config first, as
 * Knative's defaulting webhook does. Throws the first error, naming the key.
 */
export function validateAnnotations(config: AutoscalerConfig, input: Annotations): void {
  const anns: Annotations = getAnnotation(input, 'class') === undefined
    ? { ...input, [ANNOTATION.class[0]]: config.podAutoscalerClass }
    : input;
  validateClass(anns);
  validateMinMaxScale(config, anns);
  validateFloats(anns);
  validateWindow(anns);
  validateDuration(anns, 'scaleToZeroPodRetentionPeriod', false);
  validateDuration(anns, 'scaleDownDelay', true);
  validateMetric(config, anns);
  validateAlgorithm(anns);
  validateInitialScale(config, anns);
}

function invalid(key: string, value: string, rule = 'invalid value'): never {
  throw new ConfigError(key, value, rule);
}

function validateClass(anns: Annotations): void {
  const a = getAnnotation(anns, 'class');
  if (a && a.value.endsWith('.knative.dev') && a.value !== KPA_CLASS && a.value !== HPA_CLASS) {
    invalid(a.key, a.value, `must be ${KPA_CLASS} or ${HPA_CLASS}`);
  }
}

function intGE0(anns: Annotations, name: AnnotationName): number {
  const a = getAnnotation(anns, name);
  if (!a) return 0;
  if (!/^[+-]?\d+$/.test(a.value)) invalid(a.key, a.value, 'must be an integer');
  const v = parseGoInt(a.value, 32);
  if (v === undefined || v < 0) invalid(a.key, a.value, 'expected 0 <= value <= 2147483647');
  return v;
}

function validateMinMaxScale(config: AutoscalerConfig, anns: Annotations): void {
  const min = intGE0(anns, 'minScale');
  const max = intGE0(anns, 'maxScale');
  const maxAnn = getAnnotation(anns, 'maxScale');
  if (max !== 0 && max < min) invalid(maxAnn!.key, maxAnn!.value, `max-scale=${max} is less than min-scale=${min}`);
  if (maxAnn && config.maxScaleLimit > 0) {
    if (max > config.maxScaleLimit) {
      invalid(maxAnn.key, maxAnn.value, `expected 1 <= value <= ${config.maxScaleLimit} (max-scale-limit)`);
    }
    if (max === 0) invalid(maxAnn.key, maxAnn.value, `max-scale=0 (unlimited), must be less than ${config.maxScaleLimit}`);
  }
  const act = getAnnotation(anns, 'activationScale');
  if (act) {
    const nzMin = parseGoInt(act.value, 32);
    if (nzMin === undefined) invalid(act.key, act.value, 'must be an integer');
    if (min > nzMin) invalid(act.key, act.value, `min-scale=${min} is greater than activation-scale=${nzMin}`);
    if (max < nzMin && max !== 0) invalid(act.key, act.value, `max-scale=${max} is less than activation-scale=${nzMin}`);
    if (nzMin < 2) invalid(act.key, act.value, `activation-scale=${nzMin} must be greater than 1`);
  }
}

function validateFloats(anns: Annotations): void {
  const check = (name: AnnotationName, ok: (v: number) => boolean, rule: string): void => {
    const a = getAnnotation(anns, name);
    if (!a) return;
    const v = parseGoFloat(a.value);
    if (v === undefined) invalid(a.key, a.value, 'must be a number');
    if (!Number.isFinite(v)) invalid(a.key, a.value, NON_FINITE_RULE);
    if (!ok(v)) invalid(a.key, a.value, rule);
  };
  check('panicWindowPercentage', (v) => !(v < PANIC_WINDOW_PERCENTAGE_MIN || v > PANIC_WINDOW_PERCENTAGE_MAX),
    `expected ${PANIC_WINDOW_PERCENTAGE_MIN} <= value <= ${PANIC_WINDOW_PERCENTAGE_MAX}`);
  check('panicThresholdPercentage',
    (v) => !(v < PANIC_THRESHOLD_PERCENTAGE_MIN || v > PANIC_THRESHOLD_PERCENTAGE_MAX),
    `expected ${PANIC_THRESHOLD_PERCENTAGE_MIN} <= value <= ${PANIC_THRESHOLD_PERCENTAGE_MAX}`);
  check('target', (v) => !(v < TARGET_MIN), `target should be at least ${TARGET_MIN}`);
  check('targetUtilizationPercentage', (v) => !(v < 1 || v > 100), 'expected 1 <= value <= 100');
  check('targetBurstCapacity', (v) => !(v < 0 && v !== -1), 'must be either non-negative or -1 (for unlimited)');
}

function validateWindow(anns: Annotations): void {
  const a = getAnnotation(anns, 'window');
  if (!a) return;
  const d = parseGoDurationNanos(a.value);
  if (d === undefined) invalid(a.key, a.value, 'must be a duration such as "60s"');
  if (d < BigInt(WINDOW_MIN_SECONDS) * NANOS_PER_SECOND || d > BigInt(WINDOW_MAX_SECONDS) * NANOS_PER_SECOND) {
    invalid(a.key, a.value, 'expected 6s <= value <= 1h0m0s');
  }
  if (d % NANOS_PER_SECOND !== 0n) invalid(a.key, a.value, 'must be specified with at most second precision');
}

function validateDuration(anns: Annotations, name: AnnotationName, wholeSeconds: boolean): void {
  const a = getAnnotation(anns, name);
  if (!a) return;
  const d = parseGoDurationNanos(a.value);
  if (d === undefined) invalid(a.key, a.value, 'must be a duration such as "30s"');
  if (d < 0n || d > BigInt(WINDOW_MAX_SECONDS) * NANOS_PER_SECOND) invalid(a.key, a.value, 'expected 0s <= value <= 1h0m0s');
  if (wholeSeconds && d % NANOS_PER_SECOND !== 0n) {
    invalid(a.key, a.value, 'must be specified with at most second precision');
  }
}

function validateMetric(config: AutoscalerConfig, anns: Annotations): void {
  const a = getAnnotation(anns, 'metric');
  if (!a) return;
  const cls = getAnnotation(anns, 'class')?.value ?? config.podAutoscalerClass;
  if (cls === KPA_CLASS && a.value !== METRIC_CONCURRENCY && a.value !== METRIC_RPS) {
    invalid(a.key, a.value, `must be ${METRIC_CONCURRENCY} or ${METRIC_RPS} for the KPA class`);
  }
  if (cls === HPA_CLASS && a.value === '') invalid(a.key, a.value, 'must not be empty for the HPA class');
}

function validateAlgorithm(anns: Annotations): void {
  // Other classes may define their own algorithms.
  if (getAnnotation(anns, 'class')?.value !== KPA_CLASS) return;
  const a = getAnnotation(anns, 'metricAggregationAlgorithm');
  if (!a || a.value === '') return;
  if (a.value !== ALGORITHM_LINEAR && a.value !== ALGORITHM_WEIGHTED && a.value !== ALGORITHM_WEIGHTED_ALT) {
    invalid(a.key, a.value, `must be ${ALGORITHM_LINEAR} or ${ALGORITHM_WEIGHTED}`);
  }
}

function validateInitialScale(config: AutoscalerConfig, anns: Annotations): void {
  const a = getAnnotation(anns, 'initialScale');
  if (!a) return;
  const v = parseGoAtoi(a.value);
  if (v === undefined) invalid(a.key, a.value, 'must be an integer');
  if (v < 0) invalid(a.key, a.value, 'must be greater than 0');
  if (!config.allowZeroInitialScale && v === 0) invalid(a.key, a.value, '0 is not allowed by the cluster (allow-zero-initial-scale is false)');
}
