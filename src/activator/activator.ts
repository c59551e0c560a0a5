import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { keyString } from '../metrics/revisionKey.js';
import { StatSender } from '../metrics/statClient.js';
import { ActivatorMetrics } from './activatorMetrics.js';
import { LoadReporter, type StatSink } from './loadReporter.js';
import { type PeerView, samePeers } from './peers.js';
import { ActivatorProxy } from './proxy.js';
import { DEFAULT_MAX_HELD, RequestRouter, type RouteConflict } from './router.js';
import type { Endpoint, Target } from './target.js';

export const DEFAULT_PROXY_PORT = 8012;
export const DEFAULT_ADMIN_PORT = 9091;
export const DEFAULT_HOLD_TIMEOUT_MS = 300_000;
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 300_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** What a route source (the routes file, the Kubernetes informers) is told to call when things change. */
export interface RouteUpdates {
  router: RequestRouter;
  /** Targets left: their waiting requests are answered, their connections closed. */
  targetsRemoved(targets: readonly Target[]): void;
  /** Endpoints left their target: their idle connections close. */
  endpointsRemoved(endpoints: readonly Endpoint[]): void;
  conflicts(conflicts: readonly RouteConflict[]): void;
  /**
   * Where this activator stands among its replicas (from its Service's endpoints, or --peers):
   * targets with a containerConcurrency limit use only its share of their endpoints. `addresses`
   * (the peers' pod IPs, sorted) is for the log line only.
   */
  peers(view: PeerView, addresses?: readonly string[]): void;
}

/** Where routes and endpoints come from. */
export interface RouteSource {
  start(): Promise<void>;
  stop(): Promise<void> | void;
  /** Whether the routes are known (the informers have synced); /readyz waits for it. */
  synced(): boolean;
  /** A connect to an endpoint failed (a static source marks it down until it answers again). */
  connectFailed?(target: Target, endpoint: Endpoint): void;
}

export interface ActivatorOptions {
  logger: Logger;
  clock?: Clock;
  /** Listen address for both ports (default 0.0.0.0). */
  host?: string;
  /** The proxy port (default 8012, as Knative's activator); 0 picks a free one. */
  port?: number;
  /** /healthz, /readyz and /metrics (default 9091); 0 picks a free one. */
  adminPort?: number;
  routes: (updates: RouteUpdates) => RouteSource;
  /** kpa's stat server; without it the activator proxies and holds but reports nothing. */
  statsUrl?: string;
  /** Headers of each connect to it: the stats token (--stats-token-file), asked again on every reconnect. */
  statsHeaders?: () => Record<string, string>;
  /** Where stats go instead of a websocket (tests). */
  statSink?: StatSink;
  /** The pod name stats carry (several activator replicas each report their own). */
  podName: string;
  holdTimeoutMs?: number;
  upstreamTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxHeld?: number;
  retryAfterSeconds?: number;
  /** False: no report timer, the caller runs `reporter.report()` (tests on a manual clock). */
  reportEverySecond?: boolean;
}

export interface RunningActivator {
  port: number;
  adminPort: number;
  router: RequestRouter;
  proxy: ActivatorProxy;
  reporter: LoadReporter;
  metrics: ActivatorMetrics;
  sender: StatSender | null;
  /** Stops taking requests, lets in-flight ones finish until the deadline, then stops everything. */
  close(drainTimeoutMs?: number): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * `kpa activator`: the request path for plain Deployments. Wires the
 * router, the proxy, the load reporter (stats to kpa) and a route source,
 * and serves /healthz, /readyz and /metrics on the admin port.
 */
export async function startActivator(o: ActivatorOptions): Promise<RunningActivator> {
  const clock = o.clock ?? systemClock;
  const logger = o.logger;
  const router = new RequestRouter({ maxHeld: o.maxHeld ?? DEFAULT_MAX_HELD }, () => clock.now());
  let proxy: ActivatorProxy | null = null;
  let sender: StatSender | null = null;
  if (!o.statSink && o.statsUrl) {
    sender = new StatSender({
      url: o.statsUrl,
      headers: o.statsHeaders,
      onState: (s) => (s.connected
        ? logger.info({ statsUrl: o.statsUrl }, 'connected to kpa\'s stat server')
        : logger.warn({ statsUrl: o.statsUrl, reason: s.reason, retryInMs: s.retryInMs },
          / 401$/.test(s.reason ?? '')
            ? 'kpa\'s stat server refused this activator\'s stats token (401): give both the same --stats-token-file; stats are dropped until then'
            : 'not connected to kpa\'s stat server; stats are dropped until it is back')),
    });
  }
  const sink: StatSink = o.statSink ?? sender ?? { send: () => false };
  const metrics = new ActivatorMetrics(router, () => proxy, () => sender?.counters ?? null, () => sender?.connected ?? o.statSink !== undefined);
  const reporter = new LoadReporter({ router, sink, clock, podName: o.podName });

  let source: RouteSource | null = null;
  proxy = new ActivatorProxy({
    router, clock, logger,
    holdTimeoutMs: o.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS,
    upstreamTimeoutMs: o.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    connectTimeoutMs: o.connectTimeoutMs,
    retryAfterSeconds: o.retryAfterSeconds,
    onFirstRequest: (t) => reporter.firstRequest(t),
    onConnectFailure: (t, e) => source?.connectFailed?.(t, e),
    holdSeconds: (t) => metrics.holdChild(t),
  });
  const p = proxy;
  source = o.routes({
    router,
    targetsRemoved: (targets) => {
      for (const t of targets) {
        p.refuseWaiting(t, `${keyString(t.key)} is no longer routed\n`);
        p.retire([...t.endpoints]);
        metrics.forget(t);
      }
    },
    endpointsRemoved: (endpoints) => p.retire(endpoints),
    peers: (view, addresses) => {
      if (samePeers(router.peers, view)) return;
      const before = router.peers;
      router.setPeers(view.selfIndex, view.count);
      const fields = { peerIndex: view.selfIndex, peers: view.count, was: `${before.selfIndex}/${before.count}`, addresses };
      if (view.selfIndex === -1) {
        logger.info(fields, view.count === 0
          ? 'no activator peers known: this activator uses every endpoint, so containerConcurrency holds per activator only'
          : `this activator is not among its ${view.count} peers' ready endpoints (yet): it uses every endpoint until it is`);
      } else {
        logger.info(fields, `this activator is peer ${view.selfIndex} of ${view.count} (counting from 0): a target with a containerConcurrency limit gets requests on its share of the endpoints (Knative's assignSlice)`);
      }
    },
    conflicts: (conflicts) => {
      for (const c of conflicts) {
        logger.warn({ host: c.host, pathPrefix: c.pathPrefix, namespace: c.winner.namespace, revision: c.winner.name, ignoredNamespace: c.loser.namespace, ignoredRevision: c.loser.name },
          `host ${c.host}${c.pathPrefix === '/' ? '' : ` path ${c.pathPrefix}`} is claimed twice: ${keyString(c.winner)} keeps it`);
      }
    },
  });

  let listening = false;
  const admin = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path === '/readyz') {
      const reason = p.draining ? 'shutting down' : !listening ? 'starting' : !source!.synced() ? 'routes not loaded yet' : null;
      return void res.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' }).end(reason ? `not ready: ${reason}\n` : 'ok\n');
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('the admin port serves /healthz, /readyz and /metrics\n');
  });

  const host = o.host ?? '0.0.0.0';
  const port = await listen(p.server, o.port ?? DEFAULT_PROXY_PORT, host);
  let adminPort: number;
  try {
    adminPort = await listen(admin, o.adminPort ?? DEFAULT_ADMIN_PORT, host);
  } catch (err) {
    p.server.close();
    throw err;
  }
  try {
    await source.start();
  } catch (err) {
    p.server.close();
    admin.close();
    await sender?.close();
    throw err;
  }
  if (o.reportEverySecond !== false) reporter.start();
  listening = true;
  logger.info({ port, adminPort, targets: router.size, statsUrl: o.statsUrl }, `kpa activator listening: proxy on :${port}, /healthz /readyz /metrics on :${adminPort}`);

  return {
    port, adminPort, router, proxy: p, reporter, metrics, sender,
    async close(drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS) {
      await p.drain(drainTimeoutMs);
      reporter.report(); // the last partial second, so kpa sees the load fall
      reporter.stop();
      await source!.stop();
      await sender?.close();
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
    },
  };
}
