import {
  AppsV1Api, CoreV1Api, DiscoveryV1Api, type KubeConfig, type ListWatch, type V1Deployment, type V1EndpointSlice, type V1Service,
} from '@kubernetes/client-node';
import { activatorRoute, type ActivatorRoute, DEFAULT_CLASS, DeploymentAnnotationError, isOptedIn } from '../k8s/deploymentTarget.js';
import { InformerSupervisor } from '../k8s/informerSupervisor.js';
import { makeResumableInformer } from '../k8s/watch.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import type { RouteSource, RouteUpdates } from './activator.js';
import { readySlices, SERVICE_NAME_LABEL } from './endpointSlices.js';
import { nextPeerView, type PeerView, peersFromEndpointSlices, UNKNOWN_PEERS } from './peers.js';
import type { TargetConfig } from './router.js';
import type { EndpointAddress } from './target.js';

export interface KubernetesRoutesOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Only Deployments with `autoscaling.knative.dev/class` set to this (kpa's --class, default kpa.dev) are routed. */
  classValue?: string;
  /** Namespaces to watch; empty = all. */
  namespaces: readonly string[];
  /** Server-side watch timeout (tests shorten it). */
  watchTimeoutSeconds?: () => number;
  requestTimeoutMs?: number;
  /**
   * The activator's own Service (--peers-service, in POD_NAMESPACE) and pod IP (POD_IP): its
   * ready addresses, sorted, are the activator replicas, and this one's index among them picks
   * its share of each limited target's endpoints, as Knative's activator reads its Service's
   * endpoints (numActivators, activatorIndex). Without it the peers stay unknown: every endpoint
   * is used, and containerConcurrency holds per replica only.
   */
  peers?: { namespace: string; service: string; podIP: string | undefined };
}

interface Routed {
  config: TargetConfig;
  route: ActivatorRoute;
  /** "namespace/service", the index into Services and EndpointSlices. */
  serviceKey: string;
}

/**
 * The activator's route source in a cluster: informers (list + watch) over
 * Deployments, Services and EndpointSlices. An opted-in Deployment
 * (`autoscaling.knative.dev/class: kpa.dev`) with `kpa.dev/hosts` is routed; its endpoints are the ready addresses of its
 * Service's EndpointSlices on the target port behind `kpa.dev/service`'s
 * port, as kube-proxy would pick them. A Deployment's annotations are
 * validated with the key named; a bad one is logged and not routed.
 * With `peers`, it also follows the activator's own Service's EndpointSlices
 * (through the slice informers when they cover its namespace, else one more
 * informer for that Service's slices) and tells the router where this
 * replica stands among them.
 */
export class KubernetesRoutes implements RouteSource {
  private readonly deployments: ListWatch<V1Deployment>[] = [];
  private readonly services: ListWatch<V1Service>[] = [];
  private readonly slices: ListWatch<V1EndpointSlice>[] = [];
  /** The informers that hold the activator Service's slices: `slices`, or one of its own. */
  private readonly peerSlices: ListWatch<V1EndpointSlice>[] = [];
  /** "namespace/service" of the activator's own Service. */
  private readonly peersKey: string | undefined;
  private dirtyPeers = false;
  private peerView: PeerView = UNKNOWN_PEERS;
  private readonly informers: InformerSupervisor;
  private routed = new Map<string, Routed>();
  private readonly reported = new Map<string, string>();
  private dirtyRoutes = false;
  private readonly dirtyServices = new Set<string>();
  private flushScheduled = false;
  private hasSynced = false;
  /** Informers whose list has succeeded once; routes are known only when all have. */
  private readonly listed = new Set<string>();
  private informerCount = 0;

  constructor(private readonly updates: RouteUpdates, private readonly o: KubernetesRoutesOptions) {
    this.informers = new InformerSupervisor(o.logger);
    const apps = o.kubeConfig.makeApiClient(AppsV1Api);
    const core = o.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = o.kubeConfig.makeApiClient(DiscoveryV1Api);
    const options = { timeoutSeconds: o.watchTimeoutSeconds, headersTimeoutMs: o.requestTimeoutMs };
    const scopes = o.namespaces.length === 0 ? [undefined] : [...new Set(o.namespaces)];
    // client-node's informer reports a failed list as an event, not from start(): count successful lists
    // ourselves, so /readyz stays 503 (and no request is answered 404) until every kind has been listed.
    const listing = <T>(path: string, list: () => Promise<T>) => {
      this.informerCount++;
      return [path, () => list().then((r) => {
        this.listed.add(path);
        return r;
      })] as const;
    };
    for (const ns of scopes) {
      this.deployments.push(makeResumableInformer<V1Deployment>(o.kubeConfig, ...listing(ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : '/apis/apps/v1/deployments',
        () => (ns ? apps.listNamespacedDeployment({ namespace: ns }) : apps.listDeploymentForAllNamespaces())), options));
      this.services.push(makeResumableInformer<V1Service>(o.kubeConfig, ...listing(ns ? `/api/v1/namespaces/${ns}/services` : '/api/v1/services',
        () => (ns ? core.listNamespacedService({ namespace: ns }) : core.listServiceForAllNamespaces())), options));
      this.slices.push(makeResumableInformer<V1EndpointSlice>(o.kubeConfig,
        ...listing(ns ? `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices` : '/apis/discovery.k8s.io/v1/endpointslices',
          () => (ns ? discovery.listNamespacedEndpointSlice({ namespace: ns }) : discovery.listEndpointSliceForAllNamespaces())), options));
    }
    if (o.peers) {
      const { namespace, service } = o.peers;
      this.peersKey = `${namespace}/${service}`;
      if (o.namespaces.length === 0 || o.namespaces.includes(namespace)) {
        this.peerSlices.push(...this.slices);
      } else {
        // --namespaces leave out the activator's own: watch just its Service's slices there.
        const selector = `${SERVICE_NAME_LABEL}=${service}`;
        const inf = makeResumableInformer<V1EndpointSlice>(o.kubeConfig, ...listing(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
          () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector: selector })), { ...options, labelSelector: selector });
        for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, () => this.markPeers());
        this.informers.supervise(inf, 'activator endpointslices');
        this.peerSlices.push(inf);
      }
    }
    for (const inf of this.deployments) {
      for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, () => this.markRoutes());
      this.informers.supervise(inf, 'deployments');
    }
    for (const inf of this.services) {
      for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, (s) => this.markService(`${s.metadata?.namespace}/${s.metadata?.name}`));
      this.informers.supervise(inf, 'services');
    }
    for (const inf of this.slices) {
      for (const verb of ['add', 'update', 'delete'] as const) {
        inf.on(verb, (s) => this.markService(`${s.metadata?.namespace}/${s.metadata?.labels?.[SERVICE_NAME_LABEL]}`));
      }
      this.informers.supervise(inf, 'endpointslices');
    }
  }

  async start(): Promise<void> {
    // Services and slices first, so the first routing already knows the endpoints.
    const own = this.peerSlices.filter((inf) => !this.slices.includes(inf));
    await Promise.all([...this.services, ...this.slices, ...own].map((inf) => this.informers.start(inf, 'endpoints')));
    await Promise.all(this.deployments.map((inf) => this.informers.start(inf, 'deployments')));
    this.dirtyPeers = this.peersKey !== undefined;
    this.markRoutes();
    this.flush();
    this.hasSynced = true;
  }

  synced(): boolean {
    return this.hasSynced && this.listed.size === this.informerCount;
  }

  async stop(): Promise<void> {
    await this.informers.stop();
  }

  private markRoutes(): void {
    this.dirtyRoutes = true;
    this.schedule();
  }

  private markService(serviceKey: string): void {
    if (serviceKey === this.peersKey) this.dirtyPeers = true;
    this.dirtyServices.add(serviceKey);
    this.schedule();
  }

  private markPeers(): void {
    this.dirtyPeers = true;
    this.schedule();
  }

  /** Informer events come in bursts (a list, a rollout): they are applied together, once per turn of the event loop. */
  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    // Peers before endpoints: a target's new endpoints are split by the current view at once.
    if (this.dirtyPeers) {
      this.dirtyPeers = false;
      this.refreshPeers();
    }
    if (this.dirtyRoutes) {
      this.dirtyRoutes = false;
      this.rebuildRoutes();
      for (const r of this.routed.values()) this.dirtyServices.add(r.serviceKey);
    }
    if (this.dirtyServices.size === 0) return;
    const services = new Set(this.dirtyServices);
    this.dirtyServices.clear();
    for (const r of this.routed.values()) {
      if (services.has(r.serviceKey)) this.updates.endpointsRemoved(this.updates.router.setEndpoints(r.config.key, this.endpointsOf(r)));
    }
  }

  private rebuildRoutes(): void {
    const all = this.deployments.flatMap((inf) => inf.list());
    // The oldest Deployment keeps a host two of them claim, as an Ingress controller would decide.
    all.sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? ''))
      || `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
    const routed = new Map<string, Routed>();
    for (const d of all) {
      const key = { namespace: d.metadata?.namespace ?? 'default', name: d.metadata?.name ?? '' };
      const k = keyString(key);
      if (!isOptedIn(d, this.o.classValue ?? DEFAULT_CLASS)) continue;
      let route: ActivatorRoute | null;
      try {
        route = activatorRoute(d);
      } catch (err) {
        if (!(err instanceof DeploymentAnnotationError)) throw err;
        this.report(k, `not routed: ${err.message}`, true, key);
        continue;
      }
      if (!route) continue;
      this.report(k, `routing ${route.hosts.join(', ')}${route.pathPrefix === '/' ? '' : ` under ${route.pathPrefix}`} to ${k} via Service ${route.service.name}:${route.service.port}`, false, key);
      routed.set(k, {
        config: { key, hosts: route.hosts, pathPrefix: route.pathPrefix, containerConcurrency: route.containerConcurrency },
        route, serviceKey: `${key.namespace}/${route.service.name}`,
      });
    }
    // A Deployment (or its Service) that comes back later is reported again.
    const present = new Set(all.map((d) => `${d.metadata?.namespace ?? 'default'}/${d.metadata?.name ?? ''}`));
    const services = new Set([...routed.values()].map((r) => `${r.serviceKey}#service`));
    for (const k of this.reported.keys()) if (k.includes('#') ? !services.has(k) : !present.has(k)) this.reported.delete(k);
    this.routed = routed;
    const { removed, conflicts } = this.updates.router.configure([...routed.values()].map((r) => r.config));
    this.updates.targetsRemoved(removed);
    this.updates.conflicts(conflicts);
  }

  /** Where this replica stands among the activator Service's ready addresses (Knative's handlePubEpsUpdate). */
  private refreshPeers(): void {
    const { namespace, service, podIP } = this.o.peers!;
    const observed = peersFromEndpointSlices(this.peerSlices.flatMap((inf) => inf.list(namespace)), service, podIP);
    this.peerView = nextPeerView(this.peerView, observed);
    this.updates.peers(this.peerView, observed.addresses);
  }

  /** Logs a Deployment's routing once per change, not on every informer event (`k` keys the change; `key` is the Deployment). */
  private report(k: string, message: string, error: boolean, key: RevisionKey): void {
    if (this.reported.get(k) === message) return;
    this.reported.set(k, message);
    const fields = { namespace: key.namespace, deployment: key.name };
    if (error) this.o.logger.error(fields, message);
    else this.o.logger.info(fields, message);
  }

  /** The ready addresses behind the route's Service port. */
  private endpointsOf(r: Routed): EndpointAddress[] {
    const [namespace, name] = [r.config.key.namespace, r.route.service.name];
    const service = this.services.flatMap((inf) => inf.get(name, namespace) ?? [])[0];
    const servicePort = service?.spec?.ports?.find((p) => p.port === r.route.service.port);
    if (!service || !servicePort) {
      this.report(`${r.serviceKey}#service`, `Service ${r.serviceKey} ${service ? `has no port ${r.route.service.port}` : 'does not exist (yet)'}: requests for ${keyString(r.config.key)} are held`, false, r.config.key);
      return [];
    }
    this.reported.delete(`${r.serviceKey}#service`);
    const portName = servicePort.name ?? '';
    // The Service's primary family: a pod listed twice would count twice against its concurrency limit.
    const family = service.spec?.ipFamilies?.[0] ?? 'IPv4';
    const out: EndpointAddress[] = [];
    for (const { slice, addresses } of readySlices(this.slices.flatMap((inf) => inf.list(namespace)), name, family)) {
      const port = slice.ports?.find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === 'TCP')?.port;
      if (port !== undefined) for (const host of addresses) out.push({ host, port, ready: true });
    }
    return out;
  }
}
