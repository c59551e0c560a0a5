import { ANNOTATION } from './annotations.js';
import { CONFIG_KEYS } from './autoscalerConfig.js';
import type { RevisionSettings } from './revisionConfig.js';
import { didYouMean } from './suggest.js';

const GROUP = 'autoscaling.knative.dev/';

/** Every `autoscaling.knative.dev/*` annotation Knative reads (legacy camelCase spellings included), without the group. */
const ANNOTATION_NAMES: readonly string[] = [...new Set(Object.values(ANNOTATION).flat()
  .filter((key) => key.startsWith(GROUP)).map((key) => key.slice(GROUP.length)))];

/** A key nothing reads: where it was (the cluster's ConfigMap is shared by every revision, annotations are the revision's own). */
export interface UnknownKey {
  in: 'config-autoscaler' | 'annotations';
  key: string;
  message: string;
}

/**
 * Warnings for the keys of a revision's settings that nothing reads: a
 * `config-autoscaler` key or an `autoscaling.knative.dev/*` annotation that is
 * not one of Knative's. Knative ignores them, and so does kpa — a typo such as
 * `stable-windw` would silently leave the default in force, so the caller
 * says so: `config-autoscaler: unknown key "stable-windw" (did you mean
 * "stable-window"?); ignored`. Keys starting with `_` (Knative's `_example`)
 * and annotations of other groups are not kpa's to judge.
 */
export function unknownKeyWarnings(settings: RevisionSettings): UnknownKey[] {
  const warnings: UnknownKey[] = [];
  for (const key of Object.keys(settings.config ?? {})) {
    if (key.startsWith('_') || CONFIG_KEYS.includes(key)) continue;
    warnings.push({ in: 'config-autoscaler', key, message: `config-autoscaler: unknown key ${JSON.stringify(key)}${didYouMean(key, CONFIG_KEYS)}; ignored` });
  }
  for (const key of Object.keys(settings.annotations ?? {})) {
    if (!key.startsWith(GROUP)) continue;
    const name = key.slice(GROUP.length);
    if (ANNOTATION_NAMES.includes(name)) continue;
    warnings.push({
      in: 'annotations', key,
      message: `annotation ${JSON.stringify(key)}: unknown autoscaling.knative.dev annotation${didYouMean(name, ANNOTATION_NAMES, (n) => JSON.stringify(GROUP + n))}; ignored`,
    });
  }
  return warnings;
}
