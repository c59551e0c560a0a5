import { hostname } from 'node:os';
import {
  DEFAULT_ADMIN_PORT, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_HOLD_TIMEOUT_MS, DEFAULT_PROXY_PORT, DEFAULT_UPSTREAM_TIMEOUT_MS,
  type RouteSource, type RouteUpdates, startActivator,
} from '../activator/activator.js';
import type { PeerView } from '../activator/peers.js';
import { DEFAULT_MAX_HELD } from '../activator/router.js';
import { parseRoutesFile, RoutesFileError } from '../activator/routesFile.js';
import { StaticRoutes } from '../activator/staticRoutes.js';
import { NANOS_PER_SECOND, parseGoDurationNanos } from '../config/goParse.js';
import { createLogger, type Logger } from '../log.js';
import {
  type CommandContext, InputFileError, type OptionTable, parseCommandArgs, portInUseMessage, portOption as port, readInputFile, stopped, UsageError,
} from './usage.js';
import { statsTokenOption } from './statsTokenOption.js';

/** The activator Service of deploy/activator.yaml, whose endpoints are the activator replicas. */
export const DEFAULT_PEERS_SERVICE = 'kpa-activator';
export const DEFAULT_OWN_NAMESPACE = 'kpa-system';

export const ACTIVATOR_USAGE = `kpa activator [--routes FILE [--peers N --peer-index I]] [--stats-url ws://HOST:PORT/ [--stats-token-file FILE]] [--port N]
        [--admin-port N] [--host ADDR] [--kubeconfig FILE] [--context NAME] [--namespaces a,b] [--class VALUE]
        [--peers-service NAME] [--pod-name NAME]
        [--hold-timeout 300s] [--upstream-timeout 300s] [--max-held N] [--drain-timeout 30s]
  The request path for plain Deployments: an HTTP/1.1 reverse proxy that
  routes by Host (and path prefix) to a Deployment's pods, holds requests
  while it has none ready (kpa scales it from zero on the first one), never
  puts more than kpa.dev/container-concurrency requests on a pod, and reports
  each target's load to kpa's stat server (--stats-url) every second, with
  "Authorization: Bearer" and the first line of --stats-token-file when kpa
  asks for a token (the file is read again on each reconnect). In a
  cluster it routes Deployments opted in to kpa (autoscaling.knative.dev/class:
  kpa.dev, or --class) and annotated kpa.dev/hosts (all namespaces or
  --namespaces) to the ready EndpointSlice addresses of their Service
  (kpa.dev/service, default NAME:80). With --routes, a YAML list of
  {host, pathPrefix?, namespace, name, endpoints: [http://HOST:PORT…],
  containerConcurrency?}; an endpoint is ready while a connect to it succeeds.
  Proxy on --port (${DEFAULT_PROXY_PORT}), /healthz /readyz /metrics on --admin-port (${DEFAULT_ADMIN_PORT}); 0 picks free
  ports. A request held past --hold-timeout gets 504; past --max-held
  (${DEFAULT_MAX_HELD}) waiting requests per target, 503. SIGTERM drains in-flight requests
  for up to --drain-timeout.
  Several replicas split each limited target's pods between them, as Knative's
  activators do, so that together they keep to its containerConcurrency: in a
  cluster each learns its peers from the ready endpoints of its own Service
  (--peers-service, default ${DEFAULT_PEERS_SERVICE}, in $POD_NAMESPACE, default ${DEFAULT_OWN_NAMESPACE})
  and finds itself by $POD_IP; with --routes, from --peers N --peer-index I
  (0-based). With fewer pods than replicas, or peers unknown, the limit holds
  per replica.`;

/** A Service name (an RFC 1035 label), as the EndpointSlice label kubernetes.io/service-name carries it. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

function wholeNumber(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** --peers N --peer-index I: a static setup's place among its replicas (both or neither). */
function staticPeers(count: string | undefined, index: string | undefined): PeerView | undefined {
  if (count === undefined && index === undefined) return undefined;
  if (count === undefined || index === undefined) throw new UsageError('--peers N and --peer-index I go together: this replica is number I (from 0) of N in front of the same endpoints');
  const n = wholeNumber(count, '--peers', 1);
  const i = wholeNumber(index, '--peer-index', 0);
  if (i >= n) throw new UsageError(`--peer-index must be below --peers (it counts from 0), got index ${i} of ${n}`);
  return { selfIndex: i, count: n };
}

function durationMs(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const nanos = /^\d+(\.\d+)?$/.test(value) ? BigInt(Math.round(Number(value) * 1e9)) : parseGoDurationNanos(value);
  if (nanos === undefined || nanos <= 0n) throw new UsageError(`${flag} must be a positive duration such as 30s or 5m, got ${JSON.stringify(value)}`);
  return Number(nanos * 1000n / NANOS_PER_SECOND);
}

const ACTIVATOR_OPTIONS = {
  routes: { type: 'string' },
  'stats-url': { type: 'string' },
  'stats-token-file': { type: 'string' },
  port: { type: 'string' },
  'admin-port': { type: 'string' },
  host: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespaces: { type: 'string' },
  class: { type: 'string' },
  'peers-service': { type: 'string' },
  peers: { type: 'string' },
  'peer-index': { type: 'string' },
  'pod-name': { type: 'string' },
  'hold-timeout': { type: 'string' },
  'upstream-timeout': { type: 'string' },
  'max-held': { type: 'string' },
  'drain-timeout': { type: 'string' },
} as const satisfies OptionTable;

/** The flags of one of the activator's two modes only; the others apply to both. */
const KUBERNETES_ONLY = ['kubeconfig', 'context', 'namespaces', 'class', 'peers-service'] as const satisfies readonly (keyof typeof ACTIVATOR_OPTIONS)[];
const ROUTES_ONLY = ['peers', 'peer-index'] as const satisfies readonly (keyof typeof ACTIVATOR_OPTIONS)[];

export async function activatorCommand(ctx: CommandContext, logger: Logger = createLogger()): Promise<number> {
  const { values } = parseCommandArgs(ctx.args, ACTIVATOR_OPTIONS, false);
  const statsUrl = values['stats-url'];
  if (statsUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(statsUrl);
    } catch { /* reported below */ }
    if (!url || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) throw new UsageError(`--stats-url must be a ws:// or wss:// URL, got ${JSON.stringify(statsUrl)}`);
  }
  const tokenFile = values['stats-token-file'];
  if (tokenFile !== undefined && statsUrl === undefined) throw new UsageError('--stats-token-file is sent to kpa\'s stat server: give --stats-url too');
  const statsToken = statsTokenOption(tokenFile);
  const maxHeld = values['max-held'] === undefined ? DEFAULT_MAX_HELD : Number(values['max-held']);
  if (!Number.isInteger(maxHeld) || maxHeld < 0) throw new UsageError(`--max-held must be a whole number ≥ 0, got ${JSON.stringify(values['max-held'])}`);
  const options = {
    port: port(values.port, DEFAULT_PROXY_PORT, '--port'),
    adminPort: port(values['admin-port'], DEFAULT_ADMIN_PORT, '--admin-port'),
    holdTimeoutMs: durationMs(values['hold-timeout'], DEFAULT_HOLD_TIMEOUT_MS, '--hold-timeout'),
    upstreamTimeoutMs: durationMs(values['upstream-timeout'], DEFAULT_UPSTREAM_TIMEOUT_MS, '--upstream-timeout'),
    drainTimeoutMs: durationMs(values['drain-timeout'], DEFAULT_DRAIN_TIMEOUT_MS, '--drain-timeout'),
  };
  if (values.routes !== undefined) {
    const kubernetesOnly = KUBERNETES_ONLY.find((f) => values[f] !== undefined);
    if (kubernetesOnly) throw new UsageError(`--${kubernetesOnly} applies to the Kubernetes mode, not to --routes`);
  } else {
    const staticOnly = ROUTES_ONLY.find((f) => values[f] !== undefined);
    if (staticOnly) throw new UsageError(`--${staticOnly} applies to --routes: in a cluster the activator counts its peers in its Service's endpoints (--peers-service)`);
  }
  const peers = staticPeers(values.peers, values['peer-index']);
  const peersService = values['peers-service'] ?? DEFAULT_PEERS_SERVICE;
  if (!SERVICE_NAME.test(peersService)) throw new UsageError(`--peers-service must be a Service name (lower-case letters, digits, '-'), got ${JSON.stringify(peersService)}`);

  let routes: (updates: RouteUpdates) => RouteSource;
  if (values.routes !== undefined) {
    const file = values.routes;
    const targets = readInputFile(file, parseRoutesFile, (err): err is RoutesFileError => err instanceof RoutesFileError);
    routes = (updates) => new StaticRoutes(targets, updates, { peers });
  } else {
    // The Kubernetes client is loaded only where it is used.
    const { KubeConfigError, loadKubeConfig } = await import('../k8s/kubeConfig.js');
    let selection;
    try {
      selection = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context, env: ctx.env });
    } catch (err) {
      if (err instanceof KubeConfigError) throw new InputFileError(err.message);
      throw err;
    }
    if (!selection.kubeConfig) {
      throw new UsageError(`give --routes FILE, or run in a cluster (in-cluster config) or with a Kubernetes config (--kubeconfig, KUBECONFIG or ~/.kube/config); found none: ${selection.why}`);
    }
    const { kubeConfig } = selection;
    ctx.stderr.write(`kpa activator: Kubernetes mode: ${selection.description}\n${selection.note ? `kpa activator: ${selection.note}\n` : ''}`);
    logger.info({ mode: 'kubernetes', source: selection.source, context: selection.context, server: selection.server, files: selection.files, note: selection.note },
      `Kubernetes mode: ${selection.description}`);
    const { KubernetesRoutes } = await import('../activator/kubernetesRoutes.js');
    const namespaces = (values.namespaces ?? '').split(',').map((n) => n.trim()).filter(Boolean);
    const podIP = process.env.POD_IP || undefined;
    const ownNamespace = process.env.POD_NAMESPACE || DEFAULT_OWN_NAMESPACE;
    if (podIP === undefined) {
      logger.warn({ peersService }, 'no POD_IP: this activator cannot find itself among its peers, so it uses every endpoint and containerConcurrency holds per replica only');
    }
    routes = (updates) => new KubernetesRoutes(updates, {
      kubeConfig, logger: logger.child({ component: 'routes' }), namespaces, classValue: values.class,
      peers: { namespace: ownNamespace, service: peersService, podIP },
    });
  }
  if (statsUrl === undefined) logger.warn('no --stats-url: requests are proxied and held, but kpa hears nothing of them (no scale from zero)');

  let activator;
  try {
    activator = await startActivator({
      logger, host: values.host, port: options.port, adminPort: options.adminPort, routes, statsUrl,
      statsHeaders: statsToken && (() => statsToken.header()),
      podName: values['pod-name'] ?? process.env.POD_NAME ?? hostname(),
      holdTimeoutMs: options.holdTimeoutMs, upstreamTimeoutMs: options.upstreamTimeoutMs, maxHeld,
    });
  } catch (err) {
    const message = portInUseMessage(err, { '--port': options.port, '--admin-port': options.adminPort });
    if (message !== null) {
      ctx.stderr.write(`kpa activator: ${message}\n`);
      return 2;
    }
    throw err;
  }
  await stopped(ctx.stopSignal);
  logger.info({ inFlight: activator.proxy.active, drainTimeoutMs: options.drainTimeoutMs }, 'stopping: draining in-flight requests');
  await activator.close(options.drainTimeoutMs);
  logger.info('stopped');
  return 0;
}
