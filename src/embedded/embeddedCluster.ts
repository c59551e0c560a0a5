import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RunningActivator, startActivator } from '../activator/activator.js';
import type { StaticRoute } from '../activator/routesFile.js';
import { StaticRoutes } from '../activator/staticRoutes.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import { encodeStat } from '../metrics/wireStats.js';
import type { AutoscalerService } from '../service/autoscalerService.js';
import { canComeBackFromZero, ScalingDriver } from '../service/scalingDriver.js';
import { Random } from '../sim/random.js';
import { type Scenario, ScenarioError } from '../sim/scenario.js';
import { arrivals } from '../sim/workload.js';
import { DEMO_HOST, DemoDeployment } from './demoDeployment.js';
import { type DemoRevisionPlan, planRevisions } from './demoLayout.js';
import { LoadGenerator, type LoadStream, type TrafficCounts } from './loadGenerator.js';
import { reservePorts } from './ports.js';

export interface EmbeddedClusterOptions {
  scenario: Scenario;
  /** Revisions reached without the activator and scraped (queue-proxy's way); the rest go through kpa activator. */
  directRevisions?: ReadonlySet<string>;
  service: AutoscalerService;
  /** The service's stat server, where kpa activator reports. */
  statsUrl: string;
  /** The headers the activator connects with (the stats token). */
  statsHeaders?: () => Record<string, string>;
  clock: Clock;
  logger: Logger;
}

/** A revision of the demo as the banner and tests see it. */
export interface DemoRoute {
  name: string;
  /** The Host header that reaches it through the activator. */
  host: string;
  path: DemoRevisionPlan['path'];
}

/** How often a summary of the demo's traffic is logged. */
const SUMMARY_EVERY_MS = 30_000;
/** How long in-flight requests through the activator may take to finish when the demo stops (Ctrl-C must stop kpa within 5 s). */
const ACTIVATOR_DRAIN_MS = 1000;

/**
 * A demo cluster on 127.0.0.1 for `npm start`, on the real request path:
 * each revision's pods are HTTP servers with cold starts, a concurrency
 * limit and graceful termination, on ports reserved per revision; kpa
 * activator (in process) routes by Host to them, holds requests while a
 * revision has no ready pod and reports its load over the service's real
 * websocket; a revision without the activator gets its requests straight
 * on its pods and serves queue-proxy's stats for the service to scrape; a
 * load generator sends Poisson traffic as real HTTP requests. The
 * service's decisions come back through the Actuator port Kubernetes mode
 * uses.
 */
export class EmbeddedCluster {
  private readonly deployments = new Map<string, DemoDeployment>();
  private readonly timers: NodeJS.Timeout[] = [];
  private driver: ScalingDriver | null = null;
  private activator: RunningActivator | null = null;
  private load: LoadGenerator | null = null;
  private closing: Promise<void> | null = null;
  private readonly log: Logger;

  private constructor(private readonly o: EmbeddedClusterOptions, private readonly metricsServer: Server) {
    this.log = o.logger.child({ component: 'embedded' });
  }

  static async start(o: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
    let self: EmbeddedCluster | undefined;
    // queue-proxy's metrics for the scraped revisions' pods: /<namespace%2Fname>/<pod>/metrics.
    const metricsServer = createServer((req, res) => {
      const [, revision, pod, rest] = (req.url ?? '').split('?')[0].split('/');
      const stat = rest === 'metrics' ? self?.deployments.get(decodeURIComponent(revision ?? ''))?.pod(decodeURIComponent(pod ?? ''))?.queueProxyStat() : null;
      if (!stat) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/protobuf' }).end(encodeStat(stat));
    });
    await new Promise<void>((resolve) => metricsServer.listen(0, DEMO_HOST, resolve));
    self = new EmbeddedCluster(o, metricsServer);
    try {
      await self.deploy();
    } catch (err) {
      await self.close();
      throw err;
    }
    return self;
  }

  get metricsPort(): number {
    return (this.metricsServer.address() as AddressInfo).port;
  }

  /** kpa activator's proxy port (null when no revision goes through it). */
  get activatorPort(): number | null {
    return this.activator?.port ?? null;
  }

  /** kpa activator's /healthz, /readyz and /metrics. */
  get activatorAdminPort(): number | null {
    return this.activator?.adminPort ?? null;
  }

  routes(): DemoRoute[] {
    return [...this.deployments.values()].map((d) => ({ name: d.plan.key.name, host: d.plan.host, path: d.plan.path }));
  }

  private async deploy(): Promise<void> {
    const { scenario, service, clock } = this.o;
    const plans = planRevisions(scenario, this.o.directRevisions);
    const ports = await reservePorts(plans.reduce((n, p) => n + p.slots, 0), DEMO_HOST);
    const seed = new Random(scenario.seed);
    const arrivalRngs = new Map<DemoDeployment, Random>();
    let offset = 0;
    plans.forEach((plan, i) => {
      const podRng = seed.fork(2 * i + 1);
      const arrivalRng = seed.fork(2 * i);
      // The simulator may run one name twice; a cluster has one Deployment per name.
      if (this.deployments.has(keyString(plan.key))) throw new ScenarioError(`revisions[${i}].name`, `${keyString(plan.key)} is listed twice: the demo cluster runs each revision once`);
      const deployment = new DemoDeployment({
        plan, ports: ports.slice(offset, offset + plan.slots), rng: podRng, clock, logger: this.log,
        onChange: (d) => this.readyChanged(d),
      });
      offset += plan.slots;
      arrivalRngs.set(deployment, arrivalRng);
      this.deployments.set(keyString(plan.key), deployment);
    });

    this.driver = new ScalingDriver({
      service, clock, logger: this.log,
      actuator: {
        currentReplicas: (key) => this.deployment(key)?.replicas ?? 0,
        apply: (key, replicas) => this.deployment(key)?.scale(replicas),
        // A revision behind kpa activator may go to zero while it reports; a scraped one has nothing to bring it back.
        activatorInPath: (key) => canComeBackFromZero(service, key, false),
      },
    });
    // Revisions first, so the activator's first reports find them; each starts at its initial scale, already running.
    for (const d of this.deployments.values()) {
      const resolved = service.upsertRevision(d.plan.key, d.plan.revision.settings, [], d.plan.path === 'activator' ? 'activator' : 'queue-proxy');
      this.driver.track(d.plan.key, resolved);
      await d.start(resolved.decider.initialScale);
    }

    const targets: StaticRoute[] = [...this.deployments.values()].filter((d) => d.plan.path === 'activator').map((d) => ({
      key: d.plan.key, hosts: [d.plan.host], pathPrefix: '/', containerConcurrency: d.plan.revision.settings.containerConcurrency ?? 0,
      endpoints: d.ports.map((port) => ({ host: DEMO_HOST, port })),
    }));
    if (targets.length > 0) {
      const held = plans.filter((p) => p.path === 'activator').map((p) => p.revision.activatorTimeout);
      this.activator = await startActivator({
        routes: (updates) => new StaticRoutes(targets, updates),
        statsUrl: this.o.statsUrl, statsHeaders: this.o.statsHeaders, podName: 'activator-demo', host: DEMO_HOST, port: 0, adminPort: 0,
        holdTimeoutMs: Math.min(...held) * 1000,
        logger: this.o.logger.child({ component: 'activator' }),
      });
    }

    const activatorPort = this.activator?.port ?? 0;
    const streams: LoadStream[] = [...this.deployments.values()].map((d) => ({
      key: d.plan.key,
      arrivals: arrivals(d.plan.revision.workload, scenario.duration, arrivalRngs.get(d)!),
      route: d.plan.path === 'activator'
        ? () => ({ port: activatorPort, host: d.plan.host })
        : () => {
          const pod = d.pick();
          return pod ? { port: pod.port, host: d.plan.host } : null;
        },
    }));
    this.load = new LoadGenerator(streams, { clock });
    this.load.start();
    this.timers.push(setInterval(() => this.second(), 1000));
    this.timers.push(setInterval(() => this.summary(), SUMMARY_EVERY_MS));
  }

  private deployment(key: RevisionKey): DemoDeployment | undefined {
    return this.deployments.get(keyString(key));
  }

  /** A pod started or stopped listening: the service's ready pods follow at once. */
  private readyChanged(d: DemoDeployment): void {
    const { service } = this.o;
    const ready = d.readyPods();
    if (d.plan.path === 'activator') {
      service.setReadyCount(d.plan.key, ready.length);
      this.takeOutOfRotation(d.plan.key, new Set(ready.map((p) => p.port)));
      return;
    }
    const revision = encodeURIComponent(keyString(d.plan.key));
    service.setPods(d.plan.key, ready.map((pod) => ({
      name: pod.name,
      url: `http://${DEMO_HOST}:${this.metricsPort}/${revision}/${encodeURIComponent(pod.name)}/metrics`,
      startedAt: pod.readyAt,
    })));
  }

  /**
   * A pod that stopped listening leaves the activator's ready endpoints at
   * once, as a terminating pod leaves its EndpointSlice in Kubernetes. The
   * static prober alone would notice only at its next probe (up to 500 ms),
   * and after a large scale-down requests would spend refused connects on
   * stopped pods until then.
   */
  private takeOutOfRotation(key: RevisionKey, listening: ReadonlySet<number>): void {
    const target = this.activator?.router.get(key);
    if (!target) return;
    for (const endpoint of [...target.endpoints]) if (endpoint.ready && !listening.has(endpoint.port)) target.setReady(endpoint, false);
  }

  /** Each second: the scraped pods' queue-proxy stats for the second just ended. */
  private second(): void {
    const now = this.o.clock.now();
    for (const d of this.deployments.values()) {
      // A terminating pod's queue-proxy keeps reporting until the pod is gone, as it still serves requests.
      if (d.plan.path === 'direct') for (const pod of d.servingPods()) pod.closeSecond(now);
    }
  }

  private summary(): void {
    const revisions = [...this.deployments.values()].map((d) => ({
      name: d.plan.key.name, replicas: d.replicas, ready: d.readyPods().length, ...this.load?.counts(d.plan.key),
    }));
    this.log.info({ revisions }, 'demo traffic so far');
  }

  /** What each revision's clients saw so far. */
  trafficCounts(key: RevisionKey): TrafficCounts | undefined {
    return this.load?.counts(key);
  }

  /** Summary for the log line and tests. */
  snapshot(): { name: string; replicas: number; ready: number; requests: number; coldStarts: number }[] {
    return [...this.deployments.values()].map((d) => {
      const c = this.load?.counts(d.plan.key);
      return { name: d.plan.key.name, replicas: d.replicas, ready: d.readyPods().length, requests: c?.requests ?? 0, coldStarts: c?.coldStarts ?? 0 };
    });
  }

  /** Stops the clients first, so the activator and the pods have nothing left to finish, then everything else. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      this.driver?.stop();
      this.load?.close();
      await this.activator?.close(ACTIVATOR_DRAIN_MS);
      await Promise.all([...this.deployments.values()].map((d) => d.close()));
      this.metricsServer.closeAllConnections();
      await new Promise<void>((resolve) => this.metricsServer.close(() => resolve()));
    })();
    return this.closing;
  }
}
