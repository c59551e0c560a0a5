import { unknownKeyWarnings } from '../config/unknownKeys.js';
import { policySettings, type Scenario } from '../sim/scenario.js';

/**
 * The config-autoscaler keys and autoscaling.knative.dev annotations of a
 * scenario that nothing reads (ignored, as Knative ignores them), each once:
 * `api: config-autoscaler: unknown key "stable-windw" (did you mean "stable-window"?); ignored`.
 */
export function scenarioWarnings(scenario: Scenario): string[] {
  const seen = new Set<string>();
  for (const r of scenario.revisions) {
    const settings = [r.settings, ...scenario.policies.filter((p) => p.kind === 'kpa').map((p) => policySettings(r.settings, p))];
    for (const s of settings) for (const { message } of unknownKeyWarnings(s)) seen.add(`${r.name}: ${message}`);
  }
  return [...seen];
}
