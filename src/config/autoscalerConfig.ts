import { ConfigError, NON_FINITE_RULE } from './errors.js';
import {
  formatGoDuration, NANOS_PER_SECOND, parseGoBool, parseGoDurationNanos, parseGoFloat, parseGoInt,
} from './goParse.js';

/** The autoscaler class Knative's own KPA answers to. */
export const KPA_CLASS = 'kpa.autoscaling.knative.dev';
export const HPA_CLASS = 'hpa.autoscaling.knative.dev';

/** Knative's bounds (pkg/apis/autoscaling/register.go). */
export const TARGET_MIN = 0.01;
export const WINDOW_MIN_SECONDS = 6;
export const WINDOW_MAX_SECONDS = 3600;
export const PANIC_WINDOW_PERCENTAGE_MIN = 1;
export const PANIC_WINDOW_PERCENTAGE_MAX = 100;
export const PANIC_THRESHOLD_PERCENTAGE_MIN = 110;
export const PANIC_THRESHOLD_PERCENTAGE_MAX = 1000;

/**
 * The `config-autoscaler` ConfigMap, parsed and validated. Durations are in
 * seconds (validation guarantees whole seconds where Knative requires them).
 */
export interface AutoscalerConfig {
  enableScaleToZero: boolean;
  /** container-concurrency-target-percentage as a fraction in (0, 1]. */
  containerConcurrencyTargetFraction: number;
  containerConcurrencyTargetDefault: number;
  /** Utilization for non-concurrency metrics; not a ConfigMap key in Knative (fixed at 0.7). */
  targetUtilization: number;
  rpsTargetDefault: number;
  targetBurstCapacity: number;
  activatorCapacity: number;
  allowZeroInitialScale: boolean;
  initialScale: number;
  minScale: number;
  maxScale: number;
  maxScaleLimit: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  stableWindowSeconds: number;
  panicWindowPercentage: number;
  panicThresholdPercentage: number;
  scaleToZeroGracePeriodSeconds: number;
  scaleToZeroPodRetentionPeriodSeconds: number;
  scaleDownDelaySeconds: number;
  podAutoscalerClass: string;
}

const DEFAULT_TARGET_UTILIZATION = 0.7;

export function defaultAutoscalerConfig(): AutoscalerConfig {
  return {
    enableScaleToZero: true,
    containerConcurrencyTargetFraction: DEFAULT_TARGET_UTILIZATION,
    containerConcurrencyTargetDefault: 100,
    targetUtilization: DEFAULT_TARGET_UTILIZATION,
    rpsTargetDefault: 200,
    targetBurstCapacity: 211,
    activatorCapacity: 100,
    allowZeroInitialScale: false,
    initialScale: 1,
    minScale: 0,
    maxScale: 0,
    maxScaleLimit: 0,
    maxScaleUpRate: 1000,
    maxScaleDownRate: 2,
    stableWindowSeconds: 60,
    panicWindowPercentage: 10,
    panicThresholdPercentage: 200,
    scaleToZeroGracePeriodSeconds: 30,
    scaleToZeroPodRetentionPeriodSeconds: 0,
    scaleDownDelaySeconds: 0,
    podAutoscalerClass: KPA_CLASS,
  };
}

type Kind = 'bool' | 'float' | 'int32' | 'duration' | 'string';

/** Every ConfigMap key Knative's NewConfigFromMap reads, in its parse order. */
const KEYS: ReadonlyArray<readonly [string, Kind, keyof AutoscalerConfig]> = [
  ['pod-autoscaler-class', 'string', 'podAutoscalerClass'],
  ['enable-scale-to-zero', 'bool', 'enableScaleToZero'],
  ['allow-zero-initial-scale', 'bool', 'allowZeroInitialScale'],
  ['max-scale-up-rate', 'float', 'maxScaleUpRate'],
  ['max-scale-down-rate', 'float', 'maxScaleDownRate'],
  ['container-concurrency-target-percentage', 'float', 'containerConcurrencyTargetFraction'],
  ['container-concurrency-target-default', 'float', 'containerConcurrencyTargetDefault'],
  ['requests-per-second-target-default', 'float', 'rpsTargetDefault'],
  ['target-burst-capacity', 'float', 'targetBurstCapacity'],
  ['panic-window-percentage', 'float', 'panicWindowPercentage'],
  ['activator-capacity', 'float', 'activatorCapacity'],
  ['panic-threshold-percentage', 'float', 'panicThresholdPercentage'],
  ['initial-scale', 'int32', 'initialScale'],
  ['min-scale', 'int32', 'minScale'],
  ['max-scale', 'int32', 'maxScale'],
  ['max-scale-limit', 'int32', 'maxScaleLimit'],
  ['stable-window', 'duration', 'stableWindowSeconds'],
  ['scale-down-delay', 'duration', 'scaleDownDelaySeconds'],
  ['scale-to-zero-grace-period', 'duration', 'scaleToZeroGracePeriodSeconds'],
  ['scale-to-zero-pod-retention-period', 'duration', 'scaleToZeroPodRetentionPeriodSeconds'],
];

/** The ConfigMap keys this autoscaler understands (others are ignored, as Knative does). */
export const CONFIG_KEYS: readonly string[] = KEYS.map(([k]) => k);

const KIND_RULE: Record<Kind, string> = {
  bool: 'must be a boolean (true or false)',
  float: 'must be a number',
  int32: 'must be a 32-bit integer',
  duration: 'must be a duration such as "30s" or "1m30s"',
  string: '',
};

/**
 * NewConfigFromMap + validate: parse the ConfigMap's `data` over Knative's
 * defaults and apply its validation. Throws ConfigError naming the key.
 */
export function autoscalerConfigFromMap(data: Readonly<Record<string, string>>): AutoscalerConfig {
  const config = defaultAutoscalerConfig();
  // Durations are validated in nanoseconds, as Knative does, before becoming seconds.
  const durations = new Map<keyof AutoscalerConfig, bigint>([
    ['stableWindowSeconds', 60n * NANOS_PER_SECOND],
    ['scaleDownDelaySeconds', 0n],
    ['scaleToZeroGracePeriodSeconds', 30n * NANOS_PER_SECOND],
    ['scaleToZeroPodRetentionPeriodSeconds', 0n],
  ]);
  const record = config as unknown as Record<string, unknown>;
  for (const [key, kind, field] of KEYS) {
    if (!Object.prototype.hasOwnProperty.call(data, key)) continue;
    const raw = data[key];
    if (typeof raw !== 'string') throw new ConfigError(key, String(raw), 'must be a string');
    let parsed: unknown;
    switch (kind) {
      case 'string': parsed = raw.trim(); break;
      case 'bool': parsed = parseGoBool(raw); break;
      case 'float':
        parsed = parseGoFloat(raw);
        if (parsed !== undefined && !Number.isFinite(parsed)) throw new ConfigError(key, raw, NON_FINITE_RULE);
        break;
      case 'int32': parsed = parseGoInt(raw, 32); break;
      case 'duration': {
        const nanos = parseGoDurationNanos(raw);
        if (nanos !== undefined) durations.set(field, nanos);
        parsed = nanos;
        break;
      }
    }
    if (parsed === undefined) throw new ConfigError(key, raw, `failed to parse: ${KIND_RULE[kind]}`);
    if (kind !== 'duration') record[field] = parsed;
  }
  // For legacy reasons fractions in (0, 1] are accepted as they are.
  if (config.containerConcurrencyTargetFraction > 1.0) config.containerConcurrencyTargetFraction /= 100.0;
  validate(config, durations);
  for (const [field, nanos] of durations) record[field] = Number(nanos) / 1e9;
  return config;
}

function validate(c: AutoscalerConfig, d: Map<keyof AutoscalerConfig, bigint>): void {
  const grace = d.get('scaleToZeroGracePeriodSeconds')!;
  const delay = d.get('scaleDownDelaySeconds')!;
  const retention = d.get('scaleToZeroPodRetentionPeriodSeconds')!;
  const stable = d.get('stableWindowSeconds')!;
  const fail = (key: string, value: string, rule: string): never => {
    throw new ConfigError(key, value, rule);
  };
  if (grace <= 0n) fail('scale-to-zero-grace-period', formatGoDuration(grace), 'must be positive');
  if (delay < 0n) fail('scale-down-delay', formatGoDuration(delay), 'cannot be negative');
  if (delay % NANOS_PER_SECOND !== 0n) {
    fail('scale-down-delay', formatGoDuration(delay), 'must be specified with at most second precision');
  }
  if (retention < 0n) fail('scale-to-zero-pod-retention-period', formatGoDuration(retention), 'cannot be negative');
  if (c.targetBurstCapacity < 0 && c.targetBurstCapacity !== -1) {
    fail('target-burst-capacity', String(c.targetBurstCapacity), 'must be either non-negative or -1 (for unlimited)');
  }
  const fraction = c.containerConcurrencyTargetFraction;
  if (fraction <= 0 || fraction > 1) {
    fail('container-concurrency-target-percentage', String(fraction), 'is outside of valid range of (0, 100]');
  }
  const target = fraction * c.containerConcurrencyTargetDefault;
  if (target < TARGET_MIN) {
    fail('container-concurrency-target-default', String(c.containerConcurrencyTargetDefault),
      `container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of ${target}, can't be less than ${TARGET_MIN}`);
  }
  if (c.rpsTargetDefault < TARGET_MIN) {
    fail('requests-per-second-target-default', String(c.rpsTargetDefault), `must be at least ${TARGET_MIN}`);
  }
  if (c.activatorCapacity < 1) fail('activator-capacity', String(c.activatorCapacity), 'must be at least 1');
  if (c.maxScaleUpRate <= 1.0) fail('max-scale-up-rate', String(c.maxScaleUpRate), 'must be greater than 1.0');
  if (c.maxScaleDownRate <= 1.0) fail('max-scale-down-rate', String(c.maxScaleDownRate), 'must be greater than 1.0');
  if (stable < BigInt(WINDOW_MIN_SECONDS) * NANOS_PER_SECOND || stable > BigInt(WINDOW_MAX_SECONDS) * NANOS_PER_SECOND) {
    fail('stable-window', formatGoDuration(stable), 'must be in [6s; 1h0m0s] range');
  }
  if (stable % NANOS_PER_SECOND !== 0n) {
    fail('stable-window', formatGoDuration(stable), 'must be specified with at most second precision');
  }
  if (c.panicWindowPercentage < PANIC_WINDOW_PERCENTAGE_MIN || c.panicWindowPercentage > PANIC_WINDOW_PERCENTAGE_MAX) {
    fail('panic-window-percentage', String(c.panicWindowPercentage), 'must be in [1, 100] interval');
  }
  if (c.initialScale < 0 || (c.initialScale === 0 && !c.allowZeroInitialScale)) {
    fail('initial-scale', String(c.initialScale), 'must be at least 0 (or at least 1 when allow-zero-initial-scale is false)');
  }
  if (c.minScale < 0) fail('min-scale', String(c.minScale), 'must be at least 0');
  const minMaxScale = c.maxScaleLimit > 0 ? 1 : 0; // a default max-scale is required once a limit is set
  if (c.maxScale < minMaxScale || (c.maxScaleLimit > 0 && c.maxScale > c.maxScaleLimit)) {
    fail('max-scale', String(c.maxScale), `must be in [${minMaxScale}, max-scale-limit(${c.maxScaleLimit})] range`);
  }
  if (c.maxScaleLimit < 0) fail('max-scale-limit', String(c.maxScaleLimit), 'must be at least 0');
  if (c.minScale > c.maxScale && c.maxScale > 0) {
    fail('min-scale', String(c.minScale), `must be less than max-scale (${c.maxScale})`);
  }
}
