import { describe, expect, it } from 'vitest';
import { autoscalerConfigFromMap, defaultAutoscalerConfig, type AutoscalerConfig } from '../../src/config/autoscalerConfig.js';
import { ConfigError } from '../../src/config/errors.js';

// Table from Knative's pkg/autoscaler/config/config_test.go (TestNewConfig), durations in seconds.
const valid: { name: string; input: Record<string, string>; want: Partial<AutoscalerConfig> }[] = [
  { name: 'defaults', input: {}, want: defaultAutoscalerConfig() },
  {
    name: 'with toggles on',
    input: { 'enable-scale-to-zero': 'true', 'max-scale-up-rate': '1.001', 'max-scale-down-rate': '1.001', 'stable-window': '5m', 'scale-to-zero-grace-period': '30s' },
    want: { enableScaleToZero: true, maxScaleUpRate: 1.001, maxScaleDownRate: 1.001, stableWindowSeconds: 300, scaleToZeroGracePeriodSeconds: 30 },
  },
  { name: 'scale-to-zero disabled', input: { 'enable-scale-to-zero': 'false' }, want: { enableScaleToZero: false } },
  { name: 'Go bool spellings', input: { 'enable-scale-to-zero': 'F', 'allow-zero-initial-scale': '1', 'initial-scale': '0' }, want: { enableScaleToZero: false, allowZeroInitialScale: true, initialScale: 0 } },
  { name: 'container-concurrency-target-percentage as a percentage', input: { 'container-concurrency-target-percentage': '55' }, want: { containerConcurrencyTargetFraction: 0.55 } },
  { name: 'container-concurrency-target-percentage as a legacy fraction ≤ 1', input: { 'container-concurrency-target-percentage': '0.5' }, want: { containerConcurrencyTargetFraction: 0.5 } },
  { name: 'target-burst-capacity -1 keeps the activator in the path', input: { 'target-burst-capacity': '-1' }, want: { targetBurstCapacity: -1 } },
  { name: 'target-burst-capacity 0', input: { 'target-burst-capacity': '0' }, want: { targetBurstCapacity: 0 } },
  { name: 'target-burst-capacity fraction', input: { 'target-burst-capacity': '12345.678' }, want: { targetBurstCapacity: 12345.678 } },
  { name: 'stable-window bounds', input: { 'stable-window': '6s' }, want: { stableWindowSeconds: 6 } },
  { name: 'stable-window 1h', input: { 'stable-window': '1h' }, want: { stableWindowSeconds: 3600 } },
  { name: 'scale-down-delay', input: { 'scale-down-delay': '5m' }, want: { scaleDownDelaySeconds: 300 } },
  { name: 'pod retention period', input: { 'scale-to-zero-pod-retention-period': '1m3s' }, want: { scaleToZeroPodRetentionPeriodSeconds: 63 } },
  { name: 'grace period may have fractions', input: { 'scale-to-zero-grace-period': '1500ms' }, want: { scaleToZeroGracePeriodSeconds: 1.5 } },
  { name: 'max-scale-limit with max-scale', input: { 'max-scale-limit': '10', 'max-scale': '8' }, want: { maxScaleLimit: 10, maxScale: 8 } },
  { name: 'min-scale below max-scale', input: { 'min-scale': '3', 'max-scale': '4' }, want: { minScale: 3, maxScale: 4 } },
  { name: 'rps target', input: { 'requests-per-second-target-default': '0.01' }, want: { rpsTargetDefault: 0.01 } },
  { name: 'panic window and threshold', input: { 'panic-window-percentage': '100', 'panic-threshold-percentage': '110' }, want: { panicWindowPercentage: 100, panicThresholdPercentage: 110 } },
  { name: 'unknown keys are ignored as Knative does', input: { 'no-such-key': 'x', _example: 'docs' }, want: defaultAutoscalerConfig() },
  { name: 'class', input: { 'pod-autoscaler-class': 'hpa.autoscaling.knative.dev' }, want: { podAutoscalerClass: 'hpa.autoscaling.knative.dev' } },
];

const invalid: { name: string; input: Record<string, string>; key: string; rule: RegExp }[] = [
  { name: 'stable-window below 6s', input: { 'stable-window': '5s' }, key: 'stable-window', rule: /6s; 1h0m0s/ },
  { name: 'stable-window above 1h', input: { 'stable-window': '1h1s' }, key: 'stable-window', rule: /range/ },
  { name: 'stable-window not whole seconds', input: { 'stable-window': '61500ms' }, key: 'stable-window', rule: /second precision/ },
  { name: 'stable-window unparsable', input: { 'stable-window': '60' }, key: 'stable-window', rule: /duration/ },
  { name: 'scale-down-delay negative', input: { 'scale-down-delay': '-1s' }, key: 'scale-down-delay', rule: /negative/ },
  { name: 'scale-down-delay fractional', input: { 'scale-down-delay': '1.5s' }, key: 'scale-down-delay', rule: /second precision/ },
  { name: 'grace period zero', input: { 'scale-to-zero-grace-period': '0s' }, key: 'scale-to-zero-grace-period', rule: /positive/ },
  { name: 'retention negative', input: { 'scale-to-zero-pod-retention-period': '-1s' }, key: 'scale-to-zero-pod-retention-period', rule: /negative/ },
  { name: 'target-burst-capacity below -1', input: { 'target-burst-capacity': '-2' }, key: 'target-burst-capacity', rule: /non-negative or -1/ },
  { name: 'target percentage 0', input: { 'container-concurrency-target-percentage': '0' }, key: 'container-concurrency-target-percentage', rule: /range/ },
  { name: 'target percentage over 100', input: { 'container-concurrency-target-percentage': '101' }, key: 'container-concurrency-target-percentage', rule: /range/ },
  { name: 'target concurrency too small', input: { 'container-concurrency-target-default': '0.01', 'container-concurrency-target-percentage': '50' }, key: 'container-concurrency-target-default', rule: /at least|less than 0.01/ },
  { name: 'rps target too small', input: { 'requests-per-second-target-default': '0.001' }, key: 'requests-per-second-target-default', rule: /0.01/ },
  { name: 'activator capacity below 1', input: { 'activator-capacity': '0.5' }, key: 'activator-capacity', rule: /at least 1/ },
  { name: 'max-scale-up-rate 1', input: { 'max-scale-up-rate': '1' }, key: 'max-scale-up-rate', rule: /greater than 1/ },
  { name: 'max-scale-down-rate 1', input: { 'max-scale-down-rate': '1.0' }, key: 'max-scale-down-rate', rule: /greater than 1/ },
  { name: 'panic window 0', input: { 'panic-window-percentage': '0.5' }, key: 'panic-window-percentage', rule: /\[1, 100\]/ },
  { name: 'panic window over 100', input: { 'panic-window-percentage': '101' }, key: 'panic-window-percentage', rule: /\[1, 100\]/ },
  { name: 'initial-scale 0 without allow-zero-initial-scale', input: { 'initial-scale': '0' }, key: 'initial-scale', rule: /allow-zero-initial-scale/ },
  { name: 'initial-scale negative', input: { 'initial-scale': '-1', 'allow-zero-initial-scale': 'true' }, key: 'initial-scale', rule: /at least 0/ },
  { name: 'min-scale negative', input: { 'min-scale': '-1' }, key: 'min-scale', rule: /at least 0/ },
  { name: 'max-scale negative', input: { 'max-scale': '-1' }, key: 'max-scale', rule: /range/ },
  { name: 'max-scale above max-scale-limit', input: { 'max-scale-limit': '10', 'max-scale': '11' }, key: 'max-scale', rule: /max-scale-limit\(10\)/ },
  { name: 'max-scale unlimited with a limit', input: { 'max-scale-limit': '10' }, key: 'max-scale', rule: /\[1, max-scale-limit/ },
  { name: 'min-scale above max-scale', input: { 'min-scale': '5', 'max-scale': '4' }, key: 'min-scale', rule: /less than max-scale/ },
  { name: 'not a bool', input: { 'enable-scale-to-zero': 'yes' }, key: 'enable-scale-to-zero', rule: /boolean/ },
  { name: 'not a number', input: { 'max-scale-up-rate': 'fast' }, key: 'max-scale-up-rate', rule: /number/ },
  { name: 'not an int32', input: { 'min-scale': '2147483648' }, key: 'min-scale', rule: /32-bit integer/ },
];

describe('autoscalerConfigFromMap (NewConfigFromMap + validation)', () => {
  it.each(valid)('$name', ({ input, want }) => {
    expect(autoscalerConfigFromMap(input)).toMatchObject(want);
  });

  it.each(invalid)('rejects $name, naming the key', ({ input, key, rule }) => {
    let error: unknown;
    try {
      autoscalerConfigFromMap(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.key).toBe(key);
    expect(e.rule).toMatch(rule);
    expect(e.message).toContain(key);
  });
});

describe('non-finite floats (a deliberate divergence from Knative)', () => {
  const floatKeys = [
    'max-scale-up-rate', 'max-scale-down-rate', 'container-concurrency-target-percentage',
    'container-concurrency-target-default', 'requests-per-second-target-default', 'target-burst-capacity',
    'panic-window-percentage', 'activator-capacity', 'panic-threshold-percentage',
  ];
  const cases = floatKeys.flatMap((key) => ['NaN', 'Inf', '-Inf', '+Infinity', 'infinity'].map((value) => ({ key, value })));
  it.each(cases)('$key=$value is refused, naming the key', ({ key, value }) => {
    let error: unknown;
    try {
      autoscalerConfigFromMap({ [key]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as ConfigError).rule).toMatch(/finite/);
  });
});
