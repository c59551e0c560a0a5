import { type Annotations, validateAnnotations } from './annotations.js';
import { type AutoscalerConfig, autoscalerConfigFromMap } from './autoscalerConfig.js';
import { makeDeciderSpec, makeMetricSpec, type MetricSpec, type RevisionSpec } from './resolve.js';
import type { DeciderSpec } from '../decider/spec.js';

/** What a user writes for a revision: cluster ConfigMap data plus the revision's own settings. */
export interface RevisionSettings {
  /** `config-autoscaler` data; missing keys take Knative's defaults. */
  config?: Readonly<Record<string, string>>;
  /** `autoscaling.knative.dev/*` annotations. */
  annotations?: Annotations;
  containerConcurrency?: number;
  reachable?: boolean;
}

/** Everything the engine needs for a revision, resolved and validated. */
export interface ResolvedRevision {
  config: AutoscalerConfig;
  revision: RevisionSpec;
  decider: DeciderSpec;
  metric: MetricSpec;
}

/**
 * Validates and resolves a revision's settings exactly as Knative does:
 * ConfigMap parsing and validation, annotation validation, then MakeDecider
 * and MakeMetric. Throws ConfigError naming the key and the rule.
 */
export function resolveRevision(settings: RevisionSettings, clusterConfig?: AutoscalerConfig): ResolvedRevision {
  const config = clusterConfig ?? autoscalerConfigFromMap(settings.config ?? {});
  const annotations = settings.annotations ?? {};
  validateAnnotations(config, annotations);
  const revision: RevisionSpec = {
    annotations,
    containerConcurrency: settings.containerConcurrency ?? 0,
    reachable: settings.reachable ?? true,
  };
  return { config, revision, decider: makeDeciderSpec(revision, config), metric: makeMetricSpec(revision, config) };
}
