import { describe, expect, it } from 'vitest';
import { validateAnnotations } from '../../src/config/annotations.js';
import { autoscalerConfigFromMap } from '../../src/config/autoscalerConfig.js';
import { ConfigError } from '../../src/config/errors.js';

const A = (k: string) => `autoscaling.knative.dev/${k}`;
const defaults = autoscalerConfigFromMap({});

// Knative's ValidateAnnotations (pkg/apis/autoscaling/annotation_validation_test.go).
const ok: { name: string; anns: Record<string, string>; config?: Record<string, string> }[] = [
  { name: 'no annotations', anns: {} },
  { name: 'min and max', anns: { [A('min-scale')]: '1', [A('max-scale')]: '3' } },
  { name: 'max 0 is unlimited', anns: { [A('min-scale')]: '3', [A('max-scale')]: '0' } },
  { name: 'activation scale ≥ 2 within bounds', anns: { [A('min-scale')]: '2', [A('activation-scale')]: '2', [A('max-scale')]: '5' } },
  { name: 'panic window percentage bounds', anns: { [A('panic-window-percentage')]: '1' } },
  { name: 'panic threshold bounds', anns: { [A('panic-threshold-percentage')]: '1000' } },
  { name: 'window bounds', anns: { [A('window')]: '1h' } },
  { name: 'target-burst-capacity -1', anns: { [A('target-burst-capacity')]: '-1' } },
  { name: 'metric rps', anns: { [A('metric')]: 'rps' } },
  { name: 'weighted algorithm', anns: { [A('metric-aggregation-algorithm')]: 'weighted-exponential' } },
  { name: 'legacy weighted spelling', anns: { [A('metric-aggregation-algorithm')]: 'weightedExponential' } },
  { name: 'foreign class may use any metric', anns: { [A('class')]: 'custom.example.com', [A('metric')]: 'memory' } },
  { name: 'HPA class with cpu', anns: { [A('class')]: 'hpa.autoscaling.knative.dev', [A('metric')]: 'cpu' } },
  { name: 'initial scale 0 when allowed', anns: { [A('initial-scale')]: '0' }, config: { 'allow-zero-initial-scale': 'true' } },
  { name: 'max-scale within max-scale-limit', anns: { [A('max-scale')]: '5' }, config: { 'max-scale-limit': '5', 'max-scale': '1' } },
  { name: 'scale-to-zero-pod-retention-period', anns: { [A('scale-to-zero-pod-retention-period')]: '1m' } },
  { name: 'scale-down-delay', anns: { [A('scale-down-delay')]: '30s' } },
];

const bad: { name: string; anns: Record<string, string>; key: string; config?: Record<string, string> }[] = [
  { name: 'min-scale negative', anns: { [A('min-scale')]: '-1' }, key: A('min-scale') },
  { name: 'min-scale not an integer', anns: { [A('min-scale')]: '1.5' }, key: A('min-scale') },
  { name: 'max below min', anns: { [A('min-scale')]: '5', [A('max-scale')]: '2' }, key: A('max-scale') },
  { name: 'legacy max below min', anns: { [A('minScale')]: '5', [A('maxScale')]: '2' }, key: A('maxScale') },
  { name: 'max above max-scale-limit', anns: { [A('max-scale')]: '11' }, key: A('max-scale'), config: { 'max-scale-limit': '10', 'max-scale': '1' } },
  { name: 'max 0 with a max-scale-limit', anns: { [A('max-scale')]: '0' }, key: A('max-scale'), config: { 'max-scale-limit': '10', 'max-scale': '1' } },
  { name: 'activation scale 1', anns: { [A('activation-scale')]: '1' }, key: A('activation-scale') },
  { name: 'activation scale below min', anns: { [A('min-scale')]: '3', [A('activation-scale')]: '2' }, key: A('activation-scale') },
  { name: 'activation scale above max', anns: { [A('max-scale')]: '3', [A('activation-scale')]: '4' }, key: A('activation-scale') },
  { name: 'panic window 0', anns: { [A('panic-window-percentage')]: '0' }, key: A('panic-window-percentage') },
  { name: 'panic window over 100', anns: { [A('panic-window-percentage')]: '101' }, key: A('panic-window-percentage') },
  { name: 'panic threshold below 110', anns: { [A('panic-threshold-percentage')]: '109' }, key: A('panic-threshold-percentage') },
  { name: 'panic threshold above 1000', anns: { [A('panic-threshold-percentage')]: '1001' }, key: A('panic-threshold-percentage') },
  { name: 'target too small', anns: { [A('target')]: '0.001' }, key: A('target') },
  { name: 'target not a number', anns: { [A('target')]: 'many' }, key: A('target') },
  { name: 'utilization over 100', anns: { [A('target-utilization-percentage')]: '101' }, key: A('target-utilization-percentage') },
  { name: 'burst capacity -2', anns: { [A('target-burst-capacity')]: '-2' }, key: A('target-burst-capacity') },
  { name: 'window below 6s', anns: { [A('window')]: '5s' }, key: A('window') },
  { name: 'window not whole seconds', anns: { [A('window')]: '6500ms' }, key: A('window') },
  { name: 'window not a duration', anns: { [A('window')]: '60' }, key: A('window') },
  { name: 'negative retention', anns: { [A('scale-to-zero-pod-retention-period')]: '-1s' }, key: A('scale-to-zero-pod-retention-period') },
  { name: 'scale-down-delay over 1h', anns: { [A('scale-down-delay')]: '2h' }, key: A('scale-down-delay') },
  { name: 'scale-down-delay fractional', anns: { [A('scale-down-delay')]: '1.5s' }, key: A('scale-down-delay') },
  { name: 'unknown KPA metric', anns: { [A('metric')]: 'cpu' }, key: A('metric') },
  { name: 'unknown algorithm', anns: { [A('class')]: 'kpa.autoscaling.knative.dev', [A('metric-aggregation-algorithm')]: 'median' }, key: A('metric-aggregation-algorithm') },
  { name: 'unknown knative class', anns: { [A('class')]: 'foo.knative.dev' }, key: A('class') },
  { name: 'initial scale 0 not allowed', anns: { [A('initial-scale')]: '0' }, key: A('initial-scale') },
  { name: 'initial scale negative', anns: { [A('initial-scale')]: '-1' }, key: A('initial-scale') },
];

describe('validateAnnotations', () => {
  it.each(ok)('accepts $name', ({ anns, config }) => {
    expect(() => validateAnnotations(autoscalerConfigFromMap(config ?? {}), anns)).not.toThrow();
  });

  it.each(bad)('rejects $name, naming the annotation', ({ anns, key, config }) => {
    let error: unknown;
    try {
      validateAnnotations(config ? autoscalerConfigFromMap(config) : defaults, anns);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as ConfigError).message).toContain(key);
  });
});

describe('non-finite float annotations (a deliberate divergence from Knative)', () => {
  const names = ['target', 'target-utilization-percentage', 'target-burst-capacity', 'panic-window-percentage', 'panic-threshold-percentage'];
  const cases = names.flatMap((name) => ['NaN', 'Inf', '-Inf'].map((value) => ({ key: `autoscaling.knative.dev/${name}`, value })));
  it.each(cases)('$key=$value is refused, naming the annotation', ({ key, value }) => {
    let error: unknown;
    try {
      validateAnnotations(autoscalerConfigFromMap({}), { [key]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as ConfigError).rule).toMatch(/finite/);
  });
});
