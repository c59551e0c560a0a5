import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import { resolveRevision } from '../config/revisionConfig.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import { emptyStat, type Stat } from '../metrics/stat.js';
import { StatClient } from '../metrics/statClient.js';
import { encodeStat } from '../metrics/wireStats.js';
import type { AutoscalerService } from '../service/autoscalerService.js';
import { ScalingDriver } from '../service/scalingDriver.js';
import { Random } from '../sim/random.js';
import type { Scenario } from '../sim/scenario.js';
import { ServingModel } from '../sim/servingModel.js';

export interface EmbeddedClusterOptions {
  scenario: Scenario;
  service: AutoscalerService;
  /** The service's stat server, where the simulated activator reports. */
  statsUrl: string;
  clock: Clock;
  logger: Logger;
}

interface DemoRevision {
  key: RevisionKey;
  model: ServingModel;
  /** The last second's stat of each ready pod, as its queue-proxy serves it. */
  podStats: Map<string, Stat>;
}

/**
 * A demo cluster on 127.0.0.1 for `npm start`: the simulator's serving model
 * (pods with cold starts and a concurrency limit, an activator buffering at
 * zero, Poisson load) run in real time. Each pod serves queue-proxy's
 * protobuf stat over HTTP for the service to scrape; the activator sends its
 * stats over the service's real websocket; the service's decisions come back
 * through the same Actuator port Kubernetes mode uses.
 */
export class EmbeddedCluster {
  private readonly revisions = new Map<string, DemoRevision>();
  private readonly startedAt: number;
  private timers: NodeJS.Timeout[] = [];
  private driver: ScalingDriver | null = null;

  private constructor(private readonly o: EmbeddedClusterOptions, private readonly http: Server, private readonly activator: StatClient) {
    this.startedAt = o.clock.now();
  }

  static async start(o: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
    let self: EmbeddedCluster | undefined;
    const http = createServer((req, res) => {
      const [, revision, pod] = (req.url ?? '').split('/');
      const stat = self?.revisions.get(decodeURIComponent(revision ?? ''))?.podStats.get(decodeURIComponent(pod ?? ''));
      if (!stat) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/protobuf' }).end(encodeStat(stat));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const activator = await StatClient.connect(o.statsUrl);
    self = new EmbeddedCluster(o, http, activator);
    self.deploy();
    return self;
  }

  get metricsPort(): number {
    return (this.http.address() as AddressInfo).port;
  }

  private elapsed(): number {
    return this.o.clock.now() - this.startedAt;
  }

  private deploy(): void {
    const { scenario, service } = this.o;
    this.driver = new ScalingDriver({
      service, clock: this.o.clock, logger: this.o.logger,
      actuator: {
        currentReplicas: (key) => this.revisions.get(keyString(key))?.model.targetReplicas ?? 0,
        apply: (key, replicas) => this.revisions.get(keyString(key))?.model.setReplicas(replicas, this.elapsed()),
        activatorInPath: () => true, // the demo's activator buffers for every revision
      },
    });
    const seed = new Random(scenario.seed);
    scenario.revisions.forEach((revision, i) => {
      const key = { namespace: revision.namespace, name: revision.name };
      const resolved = resolveRevision(revision.settings);
      service.upsertRevision(key, revision.settings);
      this.driver!.track(key, resolved);
      const model = new ServingModel(revision, seed.fork(2 * i + 1), seed.fork(2 * i), (ready) => {
        const autoscaler = service.scalers.get(key);
        return ready === 0 || (autoscaler?.excessBurstCapacity ?? -1) < 0;
      }, Infinity, resolved.decider.initialScale);
      this.revisions.set(keyString(key), { key, model, podStats: new Map() });
    });
    // Tell the service the activator is in the path for every revision, as Knative's is.
    void this.activator.send([...this.revisions.values()].map((r) => ({ key: r.key, stat: emptyStat('activator') })));
    this.timers.push(setInterval(() => {
      const t = this.elapsed();
      for (const r of this.revisions.values()) r.model.runUntil(t);
    }, 20));
    this.timers.push(setInterval(() => this.second(), 1000));
  }

  /** Each second: the pods' and the activator's stats for the second just ended. */
  private second(): void {
    const t = this.elapsed();
    const activatorStats = [];
    for (const r of this.revisions.values()) {
      const second = r.model.closeSecond(t);
      r.podStats = new Map(second.readyPods.map((pod, i) => [pod.name, second.podStats[i]]));
      this.o.service.setPods(r.key, second.readyPods.map((pod) => ({
        name: pod.name,
        url: `http://127.0.0.1:${this.metricsPort}/${encodeURIComponent(keyString(r.key))}/${encodeURIComponent(pod.name)}/metrics`,
        startedAt: this.startedAt + pod.startedAt,
      })));
      const a = second.activatorStat;
      if (a.requestCount > 0 || a.averageConcurrentRequests > 0) activatorStats.push({ key: r.key, stat: a });
    }
    if (activatorStats.length > 0 && this.activator.open) {
      this.activator.send(activatorStats).catch((err: Error) => this.o.logger.warn({ err: err.message }, 'demo activator could not send stats'));
    }
  }

  /** Summary for the log line and tests. */
  snapshot(): { name: string; replicas: number; ready: number; requests: number; coldStarts: number }[] {
    return [...this.revisions.values()].map((r) => ({
      name: r.key.name, replicas: r.model.targetReplicas, ready: r.model.readyCount(), requests: r.model.total, coldStarts: r.model.coldStarts,
    }));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.driver?.stop();
    await this.activator.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

