import {
  AppsV1Api, AutoscalingV2Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ListWatch,
  type V1ConfigMap, type V1Deployment, type V1Pod, type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { autoscalerConfigFromMap } from '../config/autoscalerConfig.js';
import { ConfigError } from '../config/errors.js';
import type { RevisionSettings } from '../config/revisionConfig.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import { type AutoscalerService, type MetricsSource, type RevisionNames, revisionNamesFromLabels } from '../service/autoscalerService.js';
import { resolveRevision } from '../config/revisionConfig.js';
import { PodIndex, podIndexKeys, selectorIndexKey } from './podIndex.js';
import { canComeBackFromZero, ScalingDriver } from '../service/scalingDriver.js';
import { pods } from '../format.js';
import { ConflictTracker, describeController, type OtherController } from './conflicts.js';
import { coreV1EventSink, EventRecorder, type EventInput, type ObjectRef } from './events.js';
import { InformerSupervisor, OPTIONAL_RETRY_MS, optionalList } from './informerSupervisor.js';
import { CONFLICT_KINDS, type ConflictKind, type KubernetesMetrics } from './k8sMetrics.js';
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
  /**
   * Whether this replica owns a revision (holds its bucket's Lease): only an
   * owned revision is scraped, decided, patched and given Events. The rest
   * are kept as settings, their pods in the informers' cache, ready to take
   * over (ownershipChanged()). Default: every revision.
   */
  owns?: (key: RevisionKey) => boolean;
  /** How long a scale patch may take before it is retried (default 10 s). */
  requestTimeoutMs?: number;
  /** Server-side watch timeout (default: client-go's random 5–10 min); tests shorten it. */
  watchTimeoutSeconds?: () => number;
  /** How long an informer's list may take before it is retried (default 60 s). */
  listTimeoutMs?: number;
  /** kpa's Kubernetes-side series (k8sMetrics.ts); none without. */
  metrics?: KubernetesMetrics;
  /** This replica, as its Events name it (`source.host`, `reportingInstance`); default `kpa`. */
  identity?: string;
  /** How long after a 404 (the KEDA CRD not installed) ScaledObjects are looked for again (default 5 min). */
  absentCrdRetryMs?: number;
  /** Wait between retries of an Event write the API server did not answer (default 10 s, as client-go). */
  eventRetryDelayMs?: number;
}

/** The Events kpa writes on the Deployments it autoscales. */
export const EVENT_REASON = {
  /** Normal: a scale change was applied; the message says why. */
  scaled: 'KPAScaled',
  /** Warning: an HPA or ScaledObject also scales the Deployment; kpa stands down for it. */
  conflict: 'KPAConflict',
  /** Normal: the other controller is gone; kpa scales the Deployment again. */
  resumed: 'KPAResumed',
} as const;

/** A Deployment another controller also scales: kpa decides but does not patch. */
interface StandDown {
  controllers: OtherController[];
  /** The controllers a KPAConflict Event was recorded for (by this replica, as the leader). */
  announced: Set<string>;
}

interface Target {
  key: RevisionKey;
  deployment: V1Deployment;
  settings: RevisionSettings;
  source: MetricsSource;
  names: RevisionNames;
  settingsJson: string;
  /** What its settings were derived from (config, annotations, labels, selector): the same again changes nothing. */
  fingerprint: string;
  /** In the service (owned): scraped, decided, patched. */
  inService: boolean;
  /** Where its pods are found in the pod index; null: its selector has no matchLabels, its namespace is scanned. */
  indexKey: string | null;
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
  private readonly podIndex = new PodIndex();
  /** Targets by their pod index key, and those without one: the targets a pod event concerns. */
  private readonly targetsByIndexKey = new Map<string, Set<Target>>();
  private readonly unindexedTargets = new Set<Target>();
  private readonly owns: (key: RevisionKey) => boolean;
  private readonly deploymentInformers: ListWatch<V1Deployment>[] = [];
  private readonly podInformers: ListWatch<V1Pod>[] = [];
  private configInformer: ListWatch<V1ConfigMap> | null = null;
  private readonly informers: InformerSupervisor;
  /** The last valid config-autoscaler data; an invalid edit leaves it in force. */
  private configData: Record<string, string> = {};
  /** Bumped with every config-autoscaler change, so each Deployment's settings are derived again. */
  private configEpoch = 0;
  private driver: ScalingDriver | null = null;
  private readonly hpaInformers: ListWatch<V2HorizontalPodAutoscaler>[] = [];
  private readonly scaledObjectInformers: ListWatch<KubernetesObject>[] = [];
  private readonly conflicts = new ConflictTracker();
  private readonly standingDown = new Map<string, StandDown>();
  /** Each revision's latest explanation, for the KPAScaled Event of the patch its decision makes. */
  private readonly explanations = new Map<string, string>();
  readonly events: EventRecorder;

  constructor(options: KubernetesModeOptions) {
    this.o = options;
    this.owns = options.owns ?? (() => true);
    this.apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    const metrics = options.metrics;
    this.actuator = new ScaleActuator(this.apps, options.logger.child({ component: 'actuator' }), options.requestTimeoutMs, undefined, (key) => this.owns(key), {
      metrics, onApplied: (key, replicas, context) => this.scaled(key, replicas, context),
    });
    this.informers = new InformerSupervisor(options.logger, (err) => metrics?.apiError(err));
    const identity = options.identity ?? 'kpa';
    this.events = new EventRecorder({
      sink: coreV1EventSink(this.core, options.requestTimeoutMs), clock: options.clock, logger: options.logger.child({ component: 'events' }), metrics,
      correlator: { component: 'kpa', instance: identity }, retryDelayMs: options.eventRetryDelayMs,
    });
    metrics?.watchConflicts(() => this.conflictCounts());
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
      // Other autoscalers of the same Deployments: kpa stands down for a Deployment one of them scales.
      const autoscaling = kubeConfig.makeApiClient(AutoscalingV2Api);
      this.hpaInformers.push(makeResumableInformer<V2HorizontalPodAutoscaler>(kubeConfig,
        ns ? `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers` : '/apis/autoscaling/v2/horizontalpodautoscalers',
        () => (ns ? autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: ns }) : autoscaling.listHorizontalPodAutoscalerForAllNamespaces()),
        informerOptions));
      const custom = kubeConfig.makeApiClient(CustomObjectsApi);
      const keda = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' };
      const listScaledObjects = optionalList(
        () => (ns ? custom.listNamespacedCustomObject({ ...keda, namespace: ns }) : custom.listCustomObjectForAllNamespaces(keda)) as Promise<KubernetesListObject<KubernetesObject>>,
        this.o.logger, `KEDA ScaledObjects are not served (the keda.sh CRD is not installed)${ns ? ` in ${ns}` : ''}; looking for them again every ${Math.round((this.o.absentCrdRetryMs ?? OPTIONAL_RETRY_MS) / 1000)} s`,
        `KEDA ScaledObjects are served now${ns ? ` in ${ns}` : ''}; watching them`);
      this.scaledObjectInformers.push(makeResumableInformer<KubernetesObject>(kubeConfig,
        ns ? `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects` : '/apis/keda.sh/v1alpha1/scaledobjects', listScaledObjects, informerOptions));
    }
    this.watchScalers(this.hpaInformers, 'HorizontalPodAutoscaler', 'horizontalpodautoscalers');
    this.watchScalers(this.scaledObjectInformers, 'ScaledObject', 'scaledobjects');
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
      for (const verb of ['add', 'update'] as const) inf.on(verb, (p) => this.podChanged(p, this.podIndex.upsert(p)));
      inf.on('delete', (p) => this.podChanged(p, this.podIndex.remove(p)));
      this.informers.supervise(inf, 'pods');
    }
    // Before the driver's listener: the explanation of the decision whose patch the driver is about to ask for.
    const unsubscribeExplanations = this.o.service.onDecision((key, record) => this.explanations.set(keyString(key), record.explanation));
    this.driver = new ScalingDriver({
      service: this.o.service, clock: this.o.clock, logger: this.o.logger, dryRun: this.o.dryRun, mayActuate: (key) => this.owns(key),
      actuator: {
        currentReplicas: (key) => this.actuator.confirmedReplicas(key) ?? this.targets.get(keyString(key))?.deployment.spec?.replicas ?? 1,
        apply: (key, replicas) => this.apply(key, replicas),
        withdraw: (key) => this.actuator.withdraw(key),
        activatorInPath: (key) => this.canComeBackFromZero(key),
      },
    });
    // After the driver's listener: a Deployment kpa stands down for says so in its scale status.
    const unsubscribeStandDown = this.o.service.onDecision((key) => this.afterDecision(key));
    this.unsubscribe = () => {
      unsubscribeExplanations();
      unsubscribeStandDown();
    };
    // The ConfigMap first, so Deployments resolve against the cluster's config.
    await this.informers.start(this.configInformer, 'configmaps');
    // Pods before Deployments: a Deployment's decider is created knowing its ready pods.
    await Promise.all(this.podInformers.map((inf) => this.informers.start(inf, 'pods')));
    // Other autoscalers before Deployments: no patch goes out for a Deployment an HPA already scales.
    await Promise.all([
      ...this.hpaInformers.map((inf) => this.informers.start(inf, 'horizontalpodautoscalers')),
      ...this.scaledObjectInformers.map((inf) => this.informers.start(inf, 'scaledobjects')),
    ]);
    await Promise.all(this.deploymentInformers.map((inf) => this.informers.start(inf, 'deployments')));
  }

  private unsubscribe: () => void = () => undefined;

  async stop(): Promise<void> {
    this.driver?.stop();
    this.unsubscribe();
    this.actuator.stop();
    this.events.stop();
    await this.informers.stop();
  }

  /** The other controllers kpa stands down for on a Deployment; empty when it scales it. */
  standingDownFor(key: RevisionKey): OtherController[] {
    return this.standingDown.get(keyString(key))?.controllers ?? [];
  }

  private watchScalers<T extends KubernetesObject>(informers: ListWatch<T>[], kind: ConflictKind, what: string): void {
    for (const inf of informers) {
      for (const verb of ['add', 'update'] as const) inf.on(verb, (obj) => this.reconcileConflicts(this.conflicts.upsert(kind, obj)));
      inf.on('delete', (obj) => this.reconcileConflicts(this.conflicts.remove(kind, obj)));
      this.informers.supervise(inf, what, kind === 'ScaledObject' ? { retryMs: this.o.absentCrdRetryMs } : undefined);
    }
  }

  /** The driver's apply: a patch, unless another controller scales the Deployment. */
  private apply(key: RevisionKey, replicas: number): void {
    const k = keyString(key);
    if (this.standingDown.has(k)) return;
    const status = this.o.service.scaleStatus(key);
    const from = status?.currentReplicas ?? this.targets.get(k)?.deployment.spec?.replicas ?? 1;
    const explanation = this.explanations.get(k) ?? '';
    // The scaler's bounds or scale-to-zero rules changed what the decider wanted: say so too.
    const scaler = status && status.reason !== pods(replicas) ? `; then ${status.reason}` : '';
    this.actuator.apply(key, replicas, { fromReplicas: from, message: `scaled ${from} → ${replicas}: ${explanation}${scaler}` });
  }

  /** A scale patch was applied: the Deployment's KPAScaled Event says why. */
  private scaled(key: RevisionKey, replicas: number, context: { fromReplicas: number; message: string } | undefined): void {
    const t = this.targets.get(keyString(key));
    if (!t) return;
    this.recordEvent({ object: this.refOf(t.deployment), type: 'Normal', reason: EVENT_REASON.scaled, message: context?.message ?? `scaled to ${replicas}` });
  }

  /** Events only where kpa acts: never in dry run (it writes nothing to the cluster), only on the revision's owner. */
  private recordEvent(input: EventInput): boolean {
    if (this.o.dryRun || !this.owns({ namespace: input.object.namespace, name: input.object.name })) return false;
    this.events.record(input);
    return true;
  }

  private refOf(d: V1Deployment): ObjectRef {
    return {
      apiVersion: 'apps/v1', kind: 'Deployment', namespace: d.metadata?.namespace ?? 'default', name: d.metadata?.name ?? '',
      uid: d.metadata?.uid, resourceVersion: d.metadata?.resourceVersion,
    };
  }

  private reconcileConflicts(deployments: readonly string[]): void {
    for (const k of deployments) this.reconcileConflict(k);
  }

  /** Stands down for a Deployment another controller scales, or resumes once none does. */
  private reconcileConflict(k: string): void {
    const target = this.targets.get(k);
    const controllers = target ? this.conflicts.controllersOf(k) : [];
    const current = this.standingDown.get(k);
    if (controllers.length === 0) {
      if (!current) return;
      this.standingDown.delete(k);
      if (!target) return;
      const who = current.controllers.map(describeController).join(', ');
      const message = `${who} no longer ${current.controllers.length === 1 ? 'scales' : 'scale'} this Deployment; kpa autoscales it again`;
      this.o.logger.info({ namespace: target.key.namespace, deployment: target.key.name }, message);
      this.recordEvent({ object: this.refOf(target.deployment), type: 'Normal', reason: EVENT_REASON.resumed, message });
      return;
    }
    const names = controllers.map(describeController);
    if (!current) {
      // No more patches, and none retried: the other controller owns the replicas now.
      this.actuator.cancel(target!.key);
      this.o.logger.warn({ namespace: target!.key.namespace, deployment: target!.key.name, controllers: names }, `${names.join(', ')} also ${controllers.length === 1 ? 'scales' : 'scale'} ${k}; kpa stands down for it until ${controllers.length === 1 ? 'it is' : 'they are'} removed`);
    }
    this.standingDown.set(k, { controllers, announced: current?.announced ?? new Set() });
    this.announceConflicts(k);
  }

  /** A KPAConflict Event for each other controller not announced yet (a replica that becomes the leader announces them). */
  private announceConflicts(k: string): void {
    const state = this.standingDown.get(k);
    const target = this.targets.get(k);
    if (!state || !target) return;
    for (const c of state.controllers) {
      const name = describeController(c);
      if (state.announced.has(name)) continue;
      const message = `${name} also scales this Deployment; kpa stands down for it until it is removed`;
      if (this.recordEvent({ object: this.refOf(target.deployment), type: 'Warning', reason: EVENT_REASON.conflict, message })) state.announced.add(name);
    }
  }

  /** Every decision: a Deployment kpa stands down for shows why in its scale status (API, dashboard). */
  private afterDecision(key: RevisionKey): void {
    const k = keyString(key);
    const state = this.standingDown.get(k);
    if (!state) return;
    this.announceConflicts(k);
    const status = this.o.service.scaleStatus(key);
    if (!status || status.reason.startsWith('standing down')) return;
    const names = state.controllers.map(describeController).join(', ');
    this.o.service.setScaleStatus(key, { ...status, reason: `standing down: ${names} also ${state.controllers.length === 1 ? 'scales' : 'scale'} this Deployment, nothing is applied (kpa would: ${status.reason})` });
  }

  /** Deployments kpa stands down for, by the kinds of controller that scale them. */
  private conflictCounts(): Record<ConflictKind, number> {
    const counts = Object.fromEntries(CONFLICT_KINDS.map((kind) => [kind, 0])) as Record<ConflictKind, number>;
    for (const state of this.standingDown.values()) for (const kind of new Set(state.controllers.map((c) => c.kind))) counts[kind]++;
    return counts;
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
      this.configEpoch++;
      this.o.logger.info('config-autoscaler applied');
      for (const t of this.targets.values()) this.syncDeployment(t.deployment);
    };
    inf.on('add', apply);
    inf.on('update', apply);
    inf.on('delete', () => {
      this.configData = {};
      this.configEpoch++;
      for (const t of this.targets.values()) this.syncDeployment(t.deployment);
    });
    this.informers.supervise(inf, 'configmaps');
  }

  private keyOf(d: V1Deployment): RevisionKey {
    return { namespace: d.metadata?.namespace ?? 'default', name: d.metadata?.name ?? '' };
  }

  /** A pod changed (or went): the owned Deployments it belongs, or belonged, to get their ready pods again. */
  private podChanged(pod: V1Pod, previous: V1Pod | undefined): void {
    const affected = new Set<Target>();
    for (const p of previous ? [pod, previous] : [pod]) {
      for (const k of podIndexKeys(p)) for (const t of this.targetsByIndexKey.get(k) ?? []) affected.add(t);
    }
    for (const t of this.unindexedTargets) if (t.key.namespace === pod.metadata?.namespace) affected.add(t);
    for (const t of affected) if (t.inService) this.syncPods(t);
  }

  private index(t: Target): void {
    const indexKey = selectorIndexKey(t.key.namespace, t.deployment.spec?.selector);
    if (t.indexKey === indexKey && (indexKey !== null || this.unindexedTargets.has(t))) return;
    this.unindex(t);
    t.indexKey = indexKey;
    if (indexKey === null) this.unindexedTargets.add(t);
    else {
      let set = this.targetsByIndexKey.get(indexKey);
      if (!set) this.targetsByIndexKey.set(indexKey, (set = new Set()));
      set.add(t);
    }
  }

  private unindex(t: Target): void {
    this.unindexedTargets.delete(t);
    if (t.indexKey === null) return;
    const set = this.targetsByIndexKey.get(t.indexKey);
    set?.delete(t);
    if (set?.size === 0) this.targetsByIndexKey.delete(t.indexKey);
  }

  private syncPods(t: Target): void {
    try {
      this.o.service.setPods(t.key, this.readyPods(t.deployment));
    } catch (err) {
      if (!(err instanceof DeploymentAnnotationError)) throw err;
      this.o.logger.error({ namespace: t.key.namespace, deployment: t.key.name, key: err.key }, err.message);
    }
  }

  private readyPods(d: V1Deployment) {
    return readyPodTargets(d, this.podIndex.matching(d.metadata?.namespace ?? 'default', d.spec?.selector), metricsPort(d));
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
    // Most updates are a replicas change (every patch kpa makes comes back as one, to every replica):
    // with the same annotations, labels, selector and config, nothing it derives from them changes.
    const fingerprint = `${this.configEpoch}|${JSON.stringify(d.metadata?.annotations ?? {})}|${JSON.stringify(d.metadata?.labels ?? {})}|${JSON.stringify(d.spec?.selector ?? {})}`;
    const known = this.targets.get(k);
    if (known && known.fingerprint === fingerprint) {
      known.deployment = d;
      return;
    }
    let settings: RevisionSettings;
    let source: MetricsSource;
    let names: RevisionNames;
    try {
      settings = settingsFor(d, this.configData);
      resolveRevision(settings); // validated on every replica, owner or not: the error is the user's to see at once
      source = metricsSource(d);
      // Knative's configuration and service labels name the series as Knative's do; a plain Deployment is its own configuration.
      names = revisionNamesFromLabels(key.name, d.metadata?.labels);
    } catch (err) {
      if (!(err instanceof ConfigError) && !(err instanceof DeploymentAnnotationError)) throw err;
      this.o.logger.error({ namespace: key.namespace, deployment: key.name, key: err.key }, `invalid autoscaling settings, ${this.targets.has(k) ? 'keeping the previous ones' : 'not autoscaled'}: ${err.message}`);
      return;
    }
    const json = JSON.stringify({ settings, source, names });
    let target = this.targets.get(k);
    let changed = false;
    if (!target) {
      target = { key, deployment: d, settings, source, names, settingsJson: json, fingerprint, inService: false, indexKey: null };
      this.targets.set(k, target);
      this.index(target);
      this.reconcileConflict(k);
    } else {
      target.deployment = d;
      changed = target.settingsJson !== json;
      Object.assign(target, { settings, source, names, settingsJson: json, fingerprint });
      this.index(target);
    }
    if (!this.owns(key)) {
      if (target.inService) this.release(target);
      return;
    }
    if (!target.inService) {
      this.take(target); // syncs its pods
      return;
    }
    if (changed) this.driver?.track(key, this.o.service.upsertRevision(key, settings, undefined, source, names));
    this.syncPods(target);
  }

  /**
   * This replica now owns the target: its decider is created from the ready
   * pods it has now, so with more than one it starts in panic and a takeover
   * never scales a busy revision down.
   */
  private take(t: Target, bulk = false): void {
    const resolved = this.o.service.upsertRevision(t.key, t.settings, this.initialPods(t.deployment), t.source, t.names);
    this.driver?.track(t.key, resolved);
    t.inService = true;
    // A bucket's worth at once is summed up by the caller: a takeover of 1,000 revisions is one line, not 1,000.
    this.o.logger[bulk ? 'debug' : 'info']({ namespace: t.key.namespace, deployment: t.key.name }, `autoscaling ${keyString(t.key)}`);
    this.syncPods(t);
    this.announceConflicts(keyString(t.key));
  }

  /** Another replica owns the target now: nothing of it is scraped, decided or patched here. */
  private release(t: Target): void {
    t.inService = false;
    this.o.service.deleteRevision(t.key);
    this.driver?.forget(t.key);
    this.actuator.cancel(t.key);
    this.explanations.delete(keyString(t.key));
  }

  /** The buckets this replica holds changed: takes the revisions it owns now, lets go of those it does not. */
  ownershipChanged(): { taken: number; released: number } {
    let taken = 0;
    let released = 0;
    for (const t of this.targets.values()) {
      const owned = this.owns(t.key);
      if (owned && !t.inService) {
        try {
          this.take(t, true);
          taken++;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          this.o.logger.error({ namespace: t.key.namespace, deployment: t.key.name, key: err.key }, `invalid autoscaling settings, not autoscaled: ${err.message}`);
        }
      } else if (!owned && t.inService) {
        this.release(t);
        released++;
      }
    }
    return { taken, released };
  }

  /** How many opted-in Deployments this replica knows, and how many of them it owns. */
  targetCounts(): { known: number; owned: number } {
    let owned = 0;
    for (const t of this.targets.values()) if (t.inService) owned++;
    return { known: this.targets.size, owned };
  }

  /** Whether something can bring the target back from zero (see canComeBackFromZero). */
  private canComeBackFromZero(key: RevisionKey): boolean {
    const t = this.targets.get(keyString(key));
    return canComeBackFromZero(this.o.service, key, t !== undefined && scaleToZeroWithoutActivator(t.deployment));
  }

  private dropDeployment(d: V1Deployment): void {
    const key = this.keyOf(d);
    const t = this.targets.get(keyString(key));
    if (!t) return;
    this.targets.delete(keyString(key));
    this.unindex(t);
    this.standingDown.delete(keyString(key));
    if (t.inService) {
      this.release(t);
      this.o.logger.info({ namespace: key.namespace, deployment: key.name }, 'no longer autoscaled');
    }
  }
}
