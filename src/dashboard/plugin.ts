import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../clock.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import type { AutoscalerService } from '../service/autoscalerService.js';
import { type ReplicaProvider, RevisionSelections, snapshotJson, soleReplica } from '../service/httpApp.js';
import { page, type RevisionQuery } from '../service/revisionQuery.js';
import { APP_JS, INDEX_HTML } from './page.js';

const require = createRequire(import.meta.url);

/** uPlot from node_modules, served by us: the dashboard fetches nothing from the internet. */
function uplotAsset(file: string): string {
  return readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
}

/** A stream's first event holds the most active revisions, as the API's first page in activity order. */
export const FIRST_EVENT_REVISIONS = 100;
const BY_ACTIVITY: RevisionQuery = { q: '', filter: null, sort: 'activity' };

function keyJson(key: RevisionKey): string {
  return JSON.stringify({ namespace: key.namespace, name: key.name });
}

/**
 * The live dashboard at `/`: a list of the revisions (search, filter, sort
 * by activity, paged through `/api/revisions`), and for each revision the
 * user opens, charts of the observed metric (stable and panic windows)
 * against the target, desired vs ready pods, panic periods and scale to
 * zero, and a log of decisions with their explanations. An opened revision
 * is first drawn from its kept history (`/api/revisions/:namespace/:name`),
 * then follows the live stream (`/api/stream`).
 *
 * The stream sends one event after each tick. The first (`"reset":true`)
 * holds the most active revisions (FIRST_EVENT_REVISIONS) and the total;
 * each later one only the revisions that changed since the event before, in
 * full, and the keys of those removed. A revision that ticks to the same
 * "no data" again is not sent, so a thousand idle revisions cost a few dozen
 * bytes a tick. A client that falls behind what the service remembers of
 * removals gets a reset again.
 */
export function dashboardPlugin(service: AutoscalerService, clock: Clock, replica: ReplicaProvider = soleReplica): FastifyPluginAsync {
  return async (app) => {
    const selections = new RevisionSelections();
    const uplotJs = uplotAsset('uPlot.iife.min.js');
    const uplotCss = uplotAsset('uPlot.min.css');
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(INDEX_HTML));
    app.get('/dashboard/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(APP_JS));
    app.get('/dashboard/uplot.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(uplotJs));
    app.get('/dashboard/uplot.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(uplotCss));
    app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

    // Open event streams never end by themselves: closing the service ends them, or it would wait for them forever.
    const streams = new Set<ServerResponse>();
    app.addHook('preClose', async () => {
      for (const res of streams) res.end();
    });

    app.get('/api/stream', (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      streams.add(res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      let cursor: number | null = null;
      let replicaSent = '';
      const send = (): void => {
        const replicaJson = JSON.stringify(replica());
        // The replica's buckets only when they move (a handover), not every tick.
        const replicaField = replicaJson === replicaSent ? '' : `,"replica":${replicaJson}`;
        replicaSent = replicaJson;
        const t = JSON.stringify(clock.now());
        const changes = cursor === null ? null : service.changesSince(cursor);
        const view = service.readView();
        if (changes === null) {
          const first = page(selections.get(view, BY_ACTIVITY), BY_ACTIVITY, FIRST_EVENT_REVISIONS);
          cursor = view.seq;
          res.write(`data: {"t":${t},"reset":true,"seq":${view.seq},"total":${view.snapshots.length},"revisions":[${first.revisions.map(snapshotJson).join(',')}],"removed":[]${replicaField}}\n\n`);
          return;
        }
        cursor = changes.seq;
        res.write(`data: {"t":${t},"seq":${changes.seq},"total":${view.snapshots.length},"revisions":[${changes.changed.map(snapshotJson).join(',')}],"removed":[${changes.removed.map(keyJson).join(',')}]${replicaField}}\n\n`);
      };
      send();
      // Every revision decides on the same tick: send once, after the tick.
      let queued = false;
      const unsubscribe = service.onDecision(() => {
        if (queued) return;
        queued = true;
        setImmediate(() => {
          queued = false;
          send();
        });
      });
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      req.raw.on('close', () => {
        streams.delete(res);
        unsubscribe();
        clearInterval(keepAlive);
      });
    });
  };
}
