/**
 * A rejected configuration value. `key` is the ConfigMap key or annotation that
 * was wrong, `value` what it held, `rule` the rule it broke in Knative's words.
 */
export class ConfigError extends Error {
  readonly key: string;
  readonly value: string | undefined;
  readonly rule: string;

  constructor(key: string, value: string | undefined, rule: string) {
    super(value === undefined ? `${key}: ${rule}` : `${key}=${JSON.stringify(value)}: ${rule}`);
    this.name = 'ConfigError';
    this.key = key;
    this.value = value;
    this.rule = rule;
  }
}

/**
 * kpa refuses NaN and ±Inf in every float setting, a deliberate divergence:
 * Go's ParseFloat accepts them and Knative's range checks let NaN through,
 * and then every decision comes out as MinInt32.
 */
export const NON_FINITE_RULE = 'must be a finite number (kpa refuses NaN and ±Inf, which Knative would accept)';
