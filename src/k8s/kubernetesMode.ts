import {
  AppsV1Api, CoreV1Api, type KubeConfig, type KubernetesObject, type ListWatch, type V1ConfigMap, type V1Deployment, type V1Pod,
} from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { autoscalerConfigFromMap } from '../config/autoscalerConfig.js';
import { ConfigError } from '../config/errors.js';
import type { RevisionSettings } from '../config/revisionConfig.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import type { AutoscalerService } from '../service/autoscalerService.js';
import { canComeBackFromZero, ScalingDriver } from '../service/scalingDriver.js';
import { InformerSupervisor } from './informerSupervisor.js';
import {
  DeploymentAnnotationError, isOptedIn, metricsPort, metricsSource, readyPodTargets, scaleToZeroWithoutActivator, settingsFor,
} from './deploymentTarget.js';
import { ScaleActuator } from './scaleActuator.js';
import { makeResumableInformer } from './watch.js';

export interface KubernetesModeOptions {
  kubeConfig: KubeConfig;
  service: AutoscalerService;
  clock: Clock;
  logger: Logger;
  /** Namespaces to watch; empty = all. */
  namespaces: readonly string[];
  classValue: string;
  /** Where the config-autoscaler ConfigMap and the Lease live. */
  ownNamespace: string;
  configMapName?: string;
  /** Shadow mode: everything but the patch. */
  dryRun: boolean;
  /** Whether this replica may actuate (the leader); always true without leader election. */
  isLeader: () => boolean;
  /** How long a scale patch may take before it is retried (default 10 s). */
  requestTimeoutMs?: number;
  /** Server-side watch timeout (default: client-go's random 5–10 min); tests shorten it. */
  watchTimeoutSeconds?: () => number;
  /** How long an informer's list may take before it is retried (default 60 s). */
  listTimeoutMs?: number;
}

interface Target {
  key: RevisionKey;
  deployment: V1Deployment;
  settingsJson: string;
}

/**
 * kpa as an HPA alternative for plain Deployments: informers (list + watch,
 * never polling) over opted-in Deployments, their pods and the
 * config-autoscaler ConfigMap feed the service; each decision goes through
 * the scaler and, on the leader, to the `/scale` subresource.
 */
export class KubernetesMode {
  private readonly o: KubernetesModeOptions;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  readonly actuator: ScaleActuator;
  private readonly targets = new Map<string, Target>();
  private readonly deploymentInformers: ListWatch<V1Deployment>[] = [];
  private readonly podInformers: ListWatch<V1Pod>[] = [];
  private configInformer: ListWatch<V1ConfigMap> | null = null;
  private readonly informers: InformerSupervisor;
  /** The last valid config-autoscaler data; an invalid edit leaves it in force. */
  private configData: Record<string, string> = {};
  private driver: ScalingDriver | null = null;

  constructor(options: KubernetesModeOptions) {
    this.o = options;
    this.apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.actuator = new ScaleActuator(this.apps, options.logger.child({ component: 'actuator' }), options.requestTimeoutMs, undefined, options.isLeader);
    this.informers = new InformerSupervisor(options.logger);
  }

  async start(): Promise<void> {
    const { kubeConfig, namespaces, ownNamespace } = this.o;
    const configMapName = this.o.configMapName ?? 'config-autoscaler';
    // Every list and watch is bounded in time: a request the API server never answers must not stall an informer.
    const informerOptions = { timeoutSeconds: this.o.watchTimeoutSeconds, headersTimeoutMs: this.o.requestTimeoutMs, listTimeoutMs: this.o.listTimeoutMs };
    // Only the one ConfigMap: with a metadata.name field selector RBAC can limit list/watch to it (resourceNames).
    const fieldSelector = `metadata.name=${configMapName}`;
    this.configInformer = makeResumableInformer<V1ConfigMap>(kubeConfig, `/api/v1/namespaces/${ownNamespace}/configmaps`,
      () => this.core.listNamespacedConfigMap({ namespace: ownNamespace, fieldSelector }), { ...informerOptions, fieldSelector });
    // All namespaces: one cluster-wide informer per kind; a list: one informer per namespace and kind.
    const scopes = namespaces.length === 0 ? [undefined] : [...new Set(namespaces)];
    for (const ns of scopes) {
      this.deploymentInformers.push(makeResumableInformer<V1Deployment>(kubeConfig,
        ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : '/apis/apps/v1/deployments',
        () => (ns ? this.apps.listNamespacedDeployment({ namespace: ns }) : this.apps.listDeploymentForAllNamespaces()), informerOptions));
      this.podInformers.push(makeResumableInformer<V1Pod>(kubeConfig, ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
        () => (ns ? this.core.listNamespacedPod({ namespace: ns }) : this.core.listPodForAllNamespaces()), informerOptions));
    }
    this.watchConfig(this.configInformer);
    for (const inf of this.deploymentInformers) {
      for (const verb of ['add', 'update'] as const) {
        inf.on(verb, (d) => {
          this.actuator.observed(this.keyOf(d));
          this.syncDeployment(d);
        });
      }
      inf.on('delete', (d) => this.dropDeployment(d));
      this.informers.supervise(inf, 'deployments');
    }
    for (const inf of this.podInformers) {
      for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, (p) => this.syncNamespace(p.metadata?.namespace));
      this.informers.supervise(inf, 'pods');
    }
    this.driver = new ScalingDriver({
      service: this.o.service, clock: this.o.clock, logger: this.o.logger, dryRun: this.o.dryRun, mayActuate: this.o.isLeader,
      actuator: {
        currentReplicas: (key) => this.actuator.confirmedReplicas(key) ?? this.targets.get(keyString(key))?.deployment.spec?.replicas ?? 1,
        apply: (key, replicas) => this.actuator.apply(key, replicas),
        withdraw: (key) => this.actuator.withdraw(key),
        activatorInPath: (key) => this.canComeBackFromZero(key),
      },
    });
    // The ConfigMap first, so Deployments resolve against the cluster's config.
    await this.informers.start(this.configInformer, 'configmaps');
    // Pods before Deployments: a Deployment's decider is created knowing its ready pods.
    await Promise.all(this.podInformers.map((inf) => this.informers.start(inf, 'pods')));
    await Promise.all(this.deploymentInformers.map((inf) => this.informers.start(inf, 'deployments')));
  }

  async stop(): Promise<void> {
    this.driver?.stop();
    this.actuator.stop();
    await this.informers.stop();
  }

  private watchConfig(inf: ListWatch<V1ConfigMap>): void {
    const apply = (cm: V1ConfigMap): void => {
      const data = cm.data ?? {};
      try {
        autoscalerConfigFromMap(data);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        this.o.logger.error({ key: err.key, value: err.value, rule: err.rule }, `invalid ${cm.metadata?.name} edit rejected, keeping the last good config: ${err.message}`);
        return;
      }
      this.configData = { ...data };
      this.o.logger.info('config-autoscaler applied');
      for (const t of this.targets.values()) this.syncDeployment(t.deployment);
    };
    inf.on('add', apply);
    inf.on('update', apply);
    inf.on('delete', () => {
      this.configData = {};
      for (const t of this.targets.values()) this.syncDeployment(t.deployment);
    });
    this.informers.supervise(inf, 'configmaps');
  }

  private keyOf(d: V1Deployment): RevisionKey {
    return { namespace: d.metadata?.namespace ?? 'default', name: d.metadata?.name ?? '' };
  }

  private pods(namespace: string | undefined): V1Pod[] {
    return this.podInformers.flatMap((inf) => inf.list(namespace));
  }

  private syncNamespace(namespace: string | undefined): void {
    for (const t of this.targets.values()) if (t.key.namespace === namespace) this.syncPods(t);
  }

  private syncPods(t: Target): void {
    try {
      this.o.service.setPods(t.key, this.readyPods(t.deployment));
    } catch (err) {
      if (!(err instanceof DeploymentAnnotationError)) throw err;
      this.o.logger.error({ deployment: keyString(t.key), key: err.key }, err.message);
    }
  }

  private readyPods(d: V1Deployment) {
    return readyPodTargets(d, this.pods(d.metadata?.namespace), metricsPort(d));
  }

  /** A new target's ready pods, so its decider starts in panic when more than one is ready (Knative's restart guard). */
  private initialPods(d: V1Deployment) {
    try {
      return this.readyPods(d);
    } catch (err) {
      if (!(err instanceof DeploymentAnnotationError)) throw err;
      return []; // syncPods reports it
    }
  }

  private syncDeployment(d: V1Deployment): void {
    const key = this.keyOf(d);
    const k = keyString(key);
    if (!isOptedIn(d, this.o.classValue)) {
      if (this.targets.has(k)) this.dropDeployment(d);
      return;
    }
    let settings: RevisionSettings;
    try {
      settings = settingsFor(d, this.configData);
      const source = metricsSource(d);
      const json = JSON.stringify({ settings, source });
      const existing = this.targets.get(k);
      if (!existing || existing.settingsJson !== json) {
        const resolved = this.o.service.upsertRevision(key, settings, existing ? undefined : this.initialPods(d), source);
        this.driver?.track(key, resolved);
        if (existing) existing.settingsJson = json;
        else {
          this.targets.set(k, { key, deployment: d, settingsJson: json });
          this.o.logger.info({ deployment: k }, `autoscaling ${k}`);
        }
      }
    } catch (err) {
      if (!(err instanceof ConfigError) && !(err instanceof DeploymentAnnotationError)) throw err;
      this.o.logger.error({ deployment: k, key: err.key }, `invalid autoscaling settings, ${this.targets.has(k) ? 'keeping the previous ones' : 'not autoscaled'}: ${err.message}`);
      return;
    }
    const target = this.targets.get(k)!;
    target.deployment = d;
    this.syncPods(target);
  }

  /** Whether something can bring the target back from zero (see canComeBackFromZero). */
  private canComeBackFromZero(key: RevisionKey): boolean {
    const t = this.targets.get(keyString(key));
    return canComeBackFromZero(this.o.service, key, t !== undefined && scaleToZeroWithoutActivator(t.deployment));
  }

  private dropDeployment(d: V1Deployment): void {
    const key = this.keyOf(d);
    if (this.targets.delete(keyString(key))) {
      this.o.service.deleteRevision(key);
      this.driver?.forget(key);
      this.actuator.cancel(key);
      this.o.logger.info({ deployment: keyString(key) }, 'no longer autoscaled');
    }
  }
}
