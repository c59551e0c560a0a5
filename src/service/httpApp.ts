import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../log.js';
import type { AutoscalerService, DecisionRecord, RevisionSnapshot } from './autoscalerService.js';
import type { ServiceMetrics } from './promMetrics.js';
import { acceptsGzip, SharedBodyCache } from './sharedBody.js';

/** Says whether this replica should receive traffic (false for a follower of a leader election). */
export type ReadinessGate = () => { ready: boolean; reason?: string };

const health = (readiness: ReadinessGate): FastifyPluginAsync => async (app) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const state = readiness();
    return reply.code(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not ready', ...(state.reason ? { reason: state.reason } : {}) });
  });
};

const metrics = (serviceMetrics: ServiceMetrics): FastifyPluginAsync => async (app) => {
  app.get('/metrics', async (req, reply) => {
    const gzipped = acceptsGzip(req.headers['accept-encoding']);
    const body = await serviceMetrics.render(gzipped);
    reply.type(serviceMetrics.contentType).header('vary', 'accept-encoding');
    return gzipped ? reply.header('content-encoding', 'gzip').send(body) : reply.send(body);
  });
};

/** Kubernetes object names (DNS-1123 labels/subdomains); anything else is a 400 naming the field. */
const NAME_PATTERN = '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$';

/** A decision as the API shows it: the decider's result flattened with its time, explanation and the scaler's view. */
function publicDecision(d: DecisionRecord) {
  return { t: d.t, ...(d.since === undefined ? {} : { since: d.since }), ...d.result, explanation: d.explanation, scale: d.scale ?? null };
}

/** A revision as the API and the dashboard stream show it. */
export function publicSnapshot(s: RevisionSnapshot) {
  return { ...s, latest: s.latest ? publicDecision(s.latest) : null };
}

/**
 * The revisions as the API and the dashboard stream send them, serialized once
 * per change of the service's read view and shared by every reader.
 */
export function revisionsJson(service: AutoscalerService): () => string {
  let cached: { epoch: number; json: string } | null = null;
  return () => {
    const view = service.readView();
    if (cached?.epoch !== view.epoch) cached = { epoch: view.epoch, json: JSON.stringify(view.snapshots.map(publicSnapshot)) };
    return cached.json;
  };
}

const revisionsApi = (service: AutoscalerService): FastifyPluginAsync => async (app) => {
  const revisions = revisionsJson(service);
  const cache = new SharedBodyCache();
  app.get('/api/revisions', async (req, reply) => {
    const body = cache.get(service.readView().epoch, () => `{"revisions":${revisions()}}`);
    reply.type('application/json; charset=utf-8').header('vary', 'accept-encoding');
    return acceptsGzip(req.headers['accept-encoding']) ? reply.header('content-encoding', 'gzip').send(await body.gzip) : reply.send(body.text);
  });
  app.get<{ Params: { namespace: string; name: string } }>('/api/revisions/:namespace/:name', {
    schema: {
      params: {
        type: 'object',
        required: ['namespace', 'name'],
        properties: { namespace: { type: 'string', pattern: NAME_PATTERN }, name: { type: 'string', pattern: NAME_PATTERN } },
      },
    },
  }, async (req, reply) => {
    const key = { namespace: req.params.namespace, name: req.params.name };
    const snapshot = service.snapshot(key);
    if (!snapshot) return reply.code(404).send({ error: 'Not Found', message: `no autoscaled revision ${key.namespace}/${key.name}` });
    return { ...publicSnapshot(snapshot), history: service.history(key).map(publicDecision) };
  });
};

export interface HttpAppOptions {
  service: AutoscalerService;
  metrics: ServiceMetrics;
  logger: Logger;
  readiness: ReadinessGate;
  /** More plugins (the dashboard, a mode's own routes). */
  plugins?: FastifyPluginAsync[];
}

/** The service's HTTP API: health, Prometheus metrics, and the revisions ("why did it scale") API. */
export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: options.logger as FastifyBaseLogger });
  // Probes and scrapes arrive every few seconds: request logs only at warn and above.
  const quiet = { logLevel: 'warn' as const };
  await app.register(health(options.readiness), quiet);
  await app.register(metrics(options.metrics), quiet);
  await app.register(revisionsApi(options.service), quiet);
  for (const plugin of options.plugins ?? []) await app.register(plugin, quiet);
  return app;
}
