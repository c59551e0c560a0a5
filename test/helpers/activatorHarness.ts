import { createServer, request, type IncomingMessage, type Server, type ServerResponse, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ActivatorOptions, type RunningActivator, startActivator } from '../../src/activator/activator.js';
import type { StaticRoute } from '../../src/activator/routesFile.js';
import { StaticRoutes } from '../../src/activator/staticRoutes.js';
import { silentLogger } from '../../src/log.js';
import type { RevisionStat } from '../../src/metrics/wireStats.js';

/** A test app server on 127.0.0.1: a pod behind the activator. */
export interface App {
  server: Server;
  port: number;
  /** Requests it has seen (method, url, headers). */
  seen: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  /** Requests in progress now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, app: App) => void;

/** Answers `hello from PORT` after reading the body. */
export const hello: Handler = (req, res, app) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${app.port}\n`));
};

export async function startApp(handler: Handler = hello, port = 0): Promise<App> {
  const app = { seen: [], inFlight: 0, maxInFlight: 0 } as unknown as App;
  app.server = createServer((req, res) => {
    app.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    app.inFlight++;
    app.maxInFlight = Math.max(app.maxInFlight, app.inFlight);
    res.once('close', () => app.inFlight--);
    handler(req, res, app);
  });
  await new Promise<void>((resolve) => app.server.listen(port, '127.0.0.1', resolve));
  app.port = (app.server.address() as AddressInfo).port;
  app.close = async () => {
    app.server.closeAllConnections();
    await new Promise<void>((resolve) => app.server.close(() => resolve()));
  };
  return app;
}

/** A port nothing listens on (yet): bound, read, closed. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export function staticTarget(name: string, ports: number[], extra: Partial<StaticRoute> = {}): StaticRoute {
  return {
    key: { namespace: 'default', name }, hosts: [`${name}.example.com`], pathPrefix: '/', containerConcurrency: 0,
    endpoints: ports.map((port) => ({ host: '127.0.0.1', port })), ...extra,
  };
}

/** An in-process activator over static targets, collecting the stats it would send to kpa (unless statsUrl is given). */
export async function startTestActivator(targets: StaticRoute[], options: Partial<ActivatorOptions> = {}, probeMs = 100):
  Promise<RunningActivator & { stats: RevisionStat[][]; routes: StaticRoutes }> {
  const stats: RevisionStat[][] = [];
  let routes: StaticRoutes | undefined;
  const activator = await startActivator({
    logger: silentLogger(), host: '127.0.0.1', port: 0, adminPort: 0, podName: 'activator-test',
    routes: (updates) => (routes = new StaticRoutes(targets, updates, { intervalMs: probeMs, timeoutMs: 200 })),
    ...(options.statsUrl ? {} : { statSink: { send: (s) => (stats.push([...s]), true) } }),
    ...options,
  });
  return Object.assign(activator, { stats, routes: routes! });
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

/** One request through the activator with a Host header. */
export function send(port: number, host: string, path = '/', init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host, ...init.headers }, agent: init.agent ?? agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
