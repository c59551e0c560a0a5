import type { V1Deployment, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { KPA_CLASS } from '../config/autoscalerConfig.js';
import type { RevisionSettings } from '../config/revisionConfig.js';
import type { PodTarget } from '../metrics/scraper.js';

/** The class value a Deployment opts in with: `autoscaling.knative.dev/class: kpa.dev`. */
export const DEFAULT_CLASS = 'kpa.dev';
export const CLASS_ANNOTATION = 'autoscaling.knative.dev/class';
const KNATIVE_PREFIX = 'autoscaling.knative.dev/';
/** kpa's own per-Deployment settings (Knative keeps these on the Revision spec or the queue-proxy). */
export const KPA_ANNOTATION = {
  /** The app's hard concurrency limit (a Revision's containerConcurrency); default 0 = unlimited. */
  containerConcurrency: 'kpa.dev/container-concurrency',
  /** Port of the queue-proxy-compatible `/metrics` endpoint on each pod (default 9090). */
  metricsPort: 'kpa.dev/metrics-port',
  /** "true": allow scale to zero without an activator reporting stats (something else brings it back). */
  scaleToZeroWithoutActivator: 'kpa.dev/scale-to-zero-without-activator',
} as const;
export const DEFAULT_METRICS_PORT = 9090;

/** A Deployment annotation that is not usable, with the key named. */
export class DeploymentAnnotationError extends Error {
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = 'DeploymentAnnotationError';
  }
}

export function isOptedIn(deployment: V1Deployment, classValue: string): boolean {
  return deployment.metadata?.annotations?.[CLASS_ANNOTATION] === classValue;
}

/**
 * The revision settings of an opted-in Deployment: its `autoscaling.knative.dev/*`
 * annotations (the class given as Knative's KPA class so that Knative's
 * validation applies), the cluster's config-autoscaler data, and the
 * container concurrency from `kpa.dev/container-concurrency`.
 */
export function settingsFor(deployment: V1Deployment, configData: Readonly<Record<string, string>>): RevisionSettings {
  const source = deployment.metadata?.annotations ?? {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (k.startsWith(KNATIVE_PREFIX)) annotations[k] = v;
  annotations[CLASS_ANNOTATION] = KPA_CLASS;
  const raw = source[KPA_ANNOTATION.containerConcurrency];
  let containerConcurrency = 0;
  if (raw !== undefined) {
    containerConcurrency = Number(raw);
    if (!/^\d+$/.test(raw) || containerConcurrency > 2147483647) {
      throw new DeploymentAnnotationError(KPA_ANNOTATION.containerConcurrency, `must be a whole number ≥ 0, got ${JSON.stringify(raw)}`);
    }
  }
  return { config: { ...configData }, annotations, containerConcurrency, reachable: true };
}

export function metricsPort(deployment: V1Deployment): number {
  const raw = deployment.metadata?.annotations?.[KPA_ANNOTATION.metricsPort];
  if (raw === undefined) return DEFAULT_METRICS_PORT;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw new DeploymentAnnotationError(KPA_ANNOTATION.metricsPort, `must be a port number, got ${JSON.stringify(raw)}`);
  }
  return port;
}

export function scaleToZeroWithoutActivator(deployment: V1Deployment): boolean {
  return deployment.metadata?.annotations?.[KPA_ANNOTATION.scaleToZeroWithoutActivator] === 'true';
}

/** Label selector matching (matchLabels and matchExpressions), as the API server does. */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>> = {}): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    switch (e.operator) {
      case 'In': if (!inValues) return false; break;
      case 'NotIn': if (inValues) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

function isReady(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp === undefined && pod.status?.phase === 'Running' && Boolean(pod.status?.podIP) &&
    (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The Deployment's ready pods, as scrape targets (`http://POD_IP:PORT/metrics`). */
export function readyPodTargets(deployment: V1Deployment, pods: readonly V1Pod[], port: number): PodTarget[] {
  const namespace = deployment.metadata?.namespace;
  return pods
    .filter((p) => p.metadata?.namespace === namespace && selectorMatches(deployment.spec?.selector, p.metadata?.labels) && isReady(p))
    .map((p) => ({
      name: p.metadata?.name ?? '',
      url: `http://${p.status!.podIP!.includes(':') ? `[${p.status!.podIP}]` : p.status!.podIP}:${port}/metrics`,
      startedAt: p.status?.startTime ? new Date(p.status.startTime).getTime() / 1000 : 0,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
