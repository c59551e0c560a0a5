import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../log.js';
import type { AutoscalerService, DecisionRecord, ReadView, RevisionSnapshot } from './autoscalerService.js';
import type { ServiceMetrics } from './promMetrics.js';
import {
  ContinueTokenError, page, REVISION_FILTERS, REVISION_SORTS, type RevisionFilter, type RevisionPage, type RevisionQuery, type RevisionSort, select,
} from './revisionQuery.js';
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

const snapshotJsons = new WeakMap<RevisionSnapshot, string>();

/**
 * A revision as JSON, serialized once per read view and shared by every
 * reader (the API's pages and every stream client).
 */
export function snapshotJson(s: RevisionSnapshot): string {
  let json = snapshotJsons.get(s);
  if (json === undefined) {
    json = JSON.stringify(publicSnapshot(s));
    snapshotJsons.set(s, json);
  }
  return json;
}

/** Which buckets of revisions this replica holds (Kubernetes mode with --buckets). */
export interface ReplicaBuckets {
  /** The replica's identity (its pod name, as in its Leases). */
  identity: string;
  /** The buckets it holds, by number ("00", "03"); ["all"] for a replica that owns every revision. */
  buckets: string[];
  bucketCount: number;
}

export type ReplicaProvider = () => ReplicaBuckets;

/** A replica that is the only one: it holds every revision (what is shown without a provider). */
export const soleReplica: ReplicaProvider = () => ({ identity: 'kpa', buckets: ['all'], bucketCount: 1 });

/** A page holds 100 revisions unless asked, 500 at most: a call never returns megabytes. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;

/**
 * The selected revisions of one read view, per query: a page and the next
 * page of the same query, or many readers of it, select and sort once.
 */
export class RevisionSelections {
  private epoch = -1;
  private readonly selections = new Map<string, RevisionSnapshot[]>();

  get(view: ReadView, query: RevisionQuery): RevisionSnapshot[] {
    if (view.epoch !== this.epoch) {
      this.epoch = view.epoch;
      this.selections.clear();
    }
    const key = JSON.stringify([query.sort, query.filter, query.q]);
    let selected = this.selections.get(key);
    if (!selected) {
      // A bound on what one view keeps: each distinct search adds a list.
      if (this.selections.size >= 64) this.selections.clear();
      selected = select(view.snapshots, query);
      this.selections.set(key, selected);
    }
    return selected;
  }
}

function pageJson(result: RevisionPage, replicaJson: string): string {
  return `{"revisions":[${result.revisions.map(snapshotJson).join(',')}],"continue":${JSON.stringify(result.continue)},"total":${result.total},"replica":${replicaJson}}`;
}

const QUERY_PARAMETERS = ['limit', 'continue', 'q', 'filter', 'sort'];

interface RevisionsQuerystring {
  limit: number;
  continue?: string;
  q?: string;
  filter?: RevisionFilter;
  sort: RevisionSort;
}

const revisionsApi = (service: AutoscalerService, replica: ReplicaProvider): FastifyPluginAsync => async (app) => {
  const selections = new RevisionSelections();
  // The same query of the same view (500 readers of the first page) is one body, compressed once.
  const bodies = new SharedBodyCache();
  app.get<{ Querystring: RevisionsQuerystring }>('/api/revisions', {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT },
          continue: { type: 'string', maxLength: 4096 },
          q: { type: 'string', maxLength: 317 }, // a namespace (63) / a name (253)
          filter: { type: 'string', enum: [...REVISION_FILTERS] },
          sort: { type: 'string', enum: [...REVISION_SORTS], default: 'name' },
        },
      },
    },
    // Fastify drops unknown parameters silently; a misspelt one (fliter=) would list everything, so it is refused.
    preValidation: async (req, reply) => {
      const unknown = Object.keys(req.query as object).find((k) => !QUERY_PARAMETERS.includes(k));
      if (unknown !== undefined) {
        return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `querystring/${unknown} is not a parameter (limit, continue, q, filter, sort)` });
      }
    },
  }, async (req, reply) => {
    const view = service.readView();
    const query: RevisionQuery = { q: req.query.q ?? '', filter: req.query.filter ?? null, sort: req.query.sort };
    const replicaJson = JSON.stringify(replica());
    let result: RevisionPage;
    try {
      result = page(selections.get(view, query), query, req.query.limit, req.query.continue);
    } catch (err) {
      if (!(err instanceof ContinueTokenError)) throw err;
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `querystring/continue ${err.message}` });
    }
    const cacheKey = JSON.stringify([query.sort, query.filter, query.q, req.query.limit, req.query.continue ?? '', replicaJson]);
    const body = bodies.get(view.epoch, cacheKey, () => pageJson(result, replicaJson));
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
  /** Which buckets this replica holds, for /api/revisions and the dashboard (absent: soleReplica, every revision). */
  replica?: ReplicaProvider;
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
  await app.register(revisionsApi(options.service, options.replica ?? soleReplica), quiet);
  for (const plugin of options.plugins ?? []) await app.register(plugin, quiet);
  return app;
}
