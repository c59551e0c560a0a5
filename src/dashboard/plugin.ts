import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../clock.js';
import type { AutoscalerService } from '../service/autoscalerService.js';
import { revisionsJson } from '../service/httpApp.js';
import { APP_JS, INDEX_HTML } from './page.js';

const require = createRequire(import.meta.url);

/** uPlot from node_modules, served by us: the dashboard fetches nothing from the internet. */
function uplotAsset(file: string): string {
  return readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
}

/**
 * The live dashboard at `/`: per revision, charts of the observed metric
 * (stable and panic windows) against the target, desired vs ready pods, panic
 * periods and scale to zero, and a log of decisions with their explanations.
 * The page first draws each revision's kept history (the last 10 minutes of
 * decisions, from `/api/revisions/:namespace/:name`), then follows the
 * updates that arrive every tick over server-sent events (`/api/stream`).
 */
export function dashboardPlugin(service: AutoscalerService, clock: Clock): FastifyPluginAsync {
  return async (app) => {
    const revisions = revisionsJson(service);
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
      const send = (): void => {
        res.write(`data: {"t":${JSON.stringify(clock.now())},"revisions":${revisions()}}\n\n`);
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
