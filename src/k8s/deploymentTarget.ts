import type { V1Deployment, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { KPA_CLASS } from '../config/autoscalerConfig.js';
import type { RevisionSettings } from '../config/revisionConfig.js';
import type { PodTarget } from '../metrics/scraper.js';
import type { MetricsSource } from '../service/autoscalerService.js';

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
  /** Hosts (comma list) `kpa activator` routes to this Deployment: it is then in the request path. */
  hosts: 'kpa.dev/hosts',
  /** Only requests under this path prefix (Ingress `Prefix` matching; default "/"). */
  pathPrefix: 'kpa.dev/path-prefix',
  /** `name:port` of the Service in front of the pods (default: the Deployment's name, port 80). */
  service: 'kpa.dev/service',
  /** Where load is measured: `activator` (the default with kpa.dev/hosts) or `queue-proxy` (scraped pods). */
  metricsSource: 'kpa.dev/metrics-source',
} as const;
export const DEFAULT_METRICS_PORT = 9090;

/** RFC 1123 host names, as kpa.dev/hosts lists them. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A Service name (an RFC 1035 label). */
const SERVICE_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** What `kpa activator` needs to route to a Deployment. */
export interface ActivatorRoute {
  hosts: string[];
  pathPrefix: string;
  service: { name: string; port: number };
  containerConcurrency: number;
}

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
  return { config: { ...configData }, annotations, containerConcurrency: containerConcurrency(deployment), reachable: true };
}

/** `kpa.dev/container-concurrency`: the app's hard limit (0 = none). */
export function containerConcurrency(deployment: V1Deployment): number {
  const raw = deployment.metadata?.annotations?.[KPA_ANNOTATION.containerConcurrency];
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 2147483647) {
    throw new DeploymentAnnotationError(KPA_ANNOTATION.containerConcurrency, `must be a whole number ≥ 0, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * The activator's route to a Deployment, from `kpa.dev/hosts` (required),
 * `kpa.dev/path-prefix` and `kpa.dev/service`; null without kpa.dev/hosts.
 */
export function activatorRoute(deployment: V1Deployment): ActivatorRoute | null {
  const a = deployment.metadata?.annotations ?? {};
  const rawHosts = a[KPA_ANNOTATION.hosts];
  if (rawHosts === undefined) return null;
  const hosts = rawHosts.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (hosts.length === 0) throw new DeploymentAnnotationError(KPA_ANNOTATION.hosts, 'lists no host');
  for (const h of hosts) {
    if (!HOST_NAME.test(h)) throw new DeploymentAnnotationError(KPA_ANNOTATION.hosts, `${JSON.stringify(h)} is not a host name (no scheme, port or path)`);
  }
  const pathPrefix = a[KPA_ANNOTATION.pathPrefix] ?? '/';
  if (!pathPrefix.startsWith('/')) throw new DeploymentAnnotationError(KPA_ANNOTATION.pathPrefix, `must start with "/", got ${JSON.stringify(pathPrefix)}`);
  const rawService = a[KPA_ANNOTATION.service];
  let service = { name: deployment.metadata?.name ?? '', port: 80 };
  if (rawService !== undefined) {
    const m = /^([^:]+)(?::(\d+))?$/.exec(rawService.trim());
    const port = m?.[2] === undefined ? 80 : Number(m[2]);
    if (!m || !SERVICE_NAME.test(m[1]) || port < 1 || port > 65535) {
      throw new DeploymentAnnotationError(KPA_ANNOTATION.service, `must be NAME:PORT of a Service (e.g. hello:80), got ${JSON.stringify(rawService)}`);
    }
    service = { name: m[1], port };
  }
  return { hosts, pathPrefix, service, containerConcurrency: containerConcurrency(deployment) };
}

/** `kpa.dev/metrics-source`; with kpa.dev/hosts the activator is the default, else queue-proxy. */
export function metricsSource(deployment: V1Deployment): MetricsSource {
  const a = deployment.metadata?.annotations ?? {};
  const raw = a[KPA_ANNOTATION.metricsSource];
  if (raw === undefined) return a[KPA_ANNOTATION.hosts] !== undefined ? 'activator' : 'queue-proxy';
  if (raw !== 'activator' && raw !== 'queue-proxy') {
    throw new DeploymentAnnotationError(KPA_ANNOTATION.metricsSource, `must be "activator" or "queue-proxy", got ${JSON.stringify(raw)}`);
  }
  return raw;
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
