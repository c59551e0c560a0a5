import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { type Clock, systemClock } from '../clock.js';
import { TICK_INTERVAL_SECONDS } from '../decider/decider.js';
import type { Logger } from '../log.js';
import { RevisionScraper } from '../metrics/scraper.js';
import { ScrapeLoop } from '../metrics/scrapeLoop.js';
import { StatServer } from '../metrics/statServer.js';
import type { StatsTokenFile } from '../metrics/statsToken.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, type RevisionStat } from '../metrics/wireStats.js';
import type { Recorder } from '../recording/recorder.js';
import { dashboardPlugin } from '../dashboard/plugin.js';
import { AutoscalerService } from './autoscalerService.js';
import { buildHttpApp, type ReadinessGate, type ReplicaProvider } from './httpApp.js';
import { type MetricNames, ServiceMetrics } from './promMetrics.js';

export { type MetricNames, MetricNamesError, parseMetricNames } from './promMetrics.js';

export const DEFAULT_HTTP_PORT = 9090;
export const DEFAULT_STATS_PORT = 8080;

export interface LiveAutoscalerOptions {
  logger: Logger;
  clock?: Clock;
  host?: string;
  /** 0 picks free ports. */
  httpPort?: number;
  statsPort?: number;
  recorder?: Recorder;
  /** Extra readiness condition (the leader elector); the service is otherwise ready once listening. */
  readiness?: ReadinessGate;
  plugins?: FastifyPluginAsync[];
  /** Which buckets this replica holds, shown by /api/revisions and the dashboard (absent: it holds every revision). */
  replica?: ReplicaProvider;
  scraper?: RevisionScraper;
  tickIntervalMs?: number;
  scrapeIntervalMs?: number;
  /** What a stat may hold, on the websocket and from a pod, and the messages cap per frame. */
  statLimits?: DecodeLimits;
  /** The stats websocket's token (--stats-token-file); absent, any connection is accepted, as by Knative. */
  statsToken?: StatsTokenFile;
  /**
   * Where the websocket's stats go (sharded replicas: to each revision's
   * owner); `recordLocally` is this replica's service. Absent: all are recorded here.
   */
  routeStats?: (stats: RevisionStat[], forwarded: boolean, recordLocally: (stats: readonly RevisionStat[]) => void) => void;
  /** Which names /metrics serves the per-revision series under (Knative ≤ 1.18's, ≥ 1.19's or both; default both). */
  metricNames?: MetricNames;
}

/** What every `kpa run` mode passes on to the service it starts. */
export type ServiceRunOptions = Pick<LiveAutoscalerOptions, 'logger' | 'host' | 'recorder' | 'statLimits' | 'statsToken' | 'metricNames'> & {
  httpPort: number;
  statsPort: number;
};

/** The running service: the state, its HTTP app, the stat server and the timers. */
export interface LiveAutoscaler {
  service: AutoscalerService;
  metrics: ServiceMetrics;
  app: FastifyInstance;
  statServer: StatServer;
  scrapeLoop: ScrapeLoop;
  httpPort: number;
  statsPort: number;
  /** Records activator stats in this replica's service, counting them (what routeStats gets as `recordLocally`). */
  recordActivatorStats(stats: readonly RevisionStat[]): void;
  /** Runs one tick now (tests; the timer does this every 2 s). */
  tick(): void;
  close(): Promise<void>;
}

/**
 * Starts the autoscaler service: the websocket stat server, the scrape loop
 * (every second), the decider tick (every 2 s) and the HTTP API. Revisions
 * are added by the caller's mode (targets file, Kubernetes, embedded demo).
 */
export async function startLiveAutoscaler(options: LiveAutoscalerOptions): Promise<LiveAutoscaler> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const service = new AutoscalerService({ clock, logger, recorder: options.recorder });
  const metrics = new ServiceMetrics(service, options.recorder, { metricNames: options.metricNames });

  const recordLocally = (stats: readonly RevisionStat[]): void => {
    for (const { key, stat } of stats) {
      if (service.recordStat(key, stat, 'activator')) metrics.statsReceived.inc({ source: 'activator' });
      else metrics.unknownRevisionStats.inc();
    }
  };
  const statServer = await StatServer.start({
    host: options.host,
    port: options.statsPort ?? DEFAULT_STATS_PORT,
    logger: logger.child({ component: 'statserver' }),
    limits: options.statLimits ?? DEFAULT_DECODE_LIMITS,
    authorize: options.statsToken && ((req) => options.statsToken!.accepts(req)),
    onStats: (stats, forwarded) => {
      if (options.routeStats) options.routeStats(stats, forwarded, recordLocally);
      else recordLocally(stats);
    },
  });
  metrics.watchStatServer(statServer);

  const scraper = options.scraper ?? new RevisionScraper({
    bounds: options.statLimits?.bounds,
    onRejected: (r) => metrics.countScraperRejection(r.reason),
  });
  const scrapeLoop = new ScrapeLoop({
    targets: () => service.scrapeTargets(),
    scraper,
    clock,
    logger: logger.child({ component: 'scraper' }),
    onStat: (key, stat) => {
      if (service.recordStat(key, stat, 'scraper')) metrics.statsReceived.inc({ source: 'scraper' });
    },
    onScrapeSeconds: (seconds, ok) => metrics.scrapeSeconds.observe({ result: ok ? 'success' : 'error' }, seconds),
    onLateness: (seconds) => metrics.scrapeLateness.observe(seconds),
    onMissed: () => metrics.scrapeMissed.inc(),
    intervalMs: options.scrapeIntervalMs,
  });
  service.scrapeTimeliness = (key) => scrapeLoop.timeliness(key);

  let listening = false;
  const readiness: ReadinessGate = () => {
    if (!listening) return { ready: false, reason: 'starting' };
    return options.readiness?.() ?? { ready: true };
  };
  // The dashboard is served in every mode.
  const app = await buildHttpApp({
    service, metrics, logger, readiness, replica: options.replica,
    plugins: [dashboardPlugin(service, clock, options.replica), ...(options.plugins ?? [])],
  });
  await app.listen({ host: options.host ?? '0.0.0.0', port: options.httpPort ?? DEFAULT_HTTP_PORT });
  listening = true;
  const address = app.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : 0;

  const tick = (): void => {
    const end = metrics.tickSeconds.startTimer();
    service.tick();
    end();
  };
  const tickTimer = setInterval(tick, options.tickIntervalMs ?? TICK_INTERVAL_SECONDS * 1000);
  scrapeLoop.start();
  logger.info({ httpPort, statsPort: statServer.port }, `kpa listening: API and /metrics on :${httpPort}, activator stats websocket on :${statServer.port}`);

  return {
    service, metrics, app, statServer, scrapeLoop, httpPort, statsPort: statServer.port, recordActivatorStats: recordLocally, tick,
    async close() {
      clearInterval(tickTimer);
      await scrapeLoop.stop();
      await scraper.close(); // the pods' keep-alive connections
      await statServer.close();
      await app.close();
    },
  };
}
