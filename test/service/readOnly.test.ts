import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedRun, startEmbeddedRun } from '../../src/cli/runEmbedded.js';
import { silentLogger } from '../../src/log.js';

// The API, the dashboard and /metrics are read-only: nothing on the HTTP port can change what kpa
// decides (stats come only over the websocket port, config only from config-autoscaler).
let run: EmbeddedRun;
beforeAll(async () => {
  run = await startEmbeddedRun({ logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0 });
});
afterAll(async () => {
  await run?.close();
});

describe('the HTTP port is read-only', () => {
  it('registers only GET and HEAD routes', () => {
    const routes = run.live.app.printRoutes({ commonPrefix: false });
    const methods = new Set([...routes.matchAll(/\(([A-Z, ]+)\)/g)].flatMap((m) => m[1].split(', ')));
    expect(routes).toContain('api/revisions');
    expect([...methods].sort()).toEqual(['GET', 'HEAD']);
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('answers %s to every route with 404 and changes nothing', async (method) => {
    const base = `http://127.0.0.1:${run.live.httpPort}`;
    const before = ((await (await fetch(`${base}/api/revisions`)).json()) as { revisions: { namespace: string; name: string }[] }).revisions;
    const one = before[0];
    for (const path of ['/', '/metrics', '/healthz', '/readyz', '/api/revisions', `/api/revisions/${one.namespace}/${one.name}`, '/api/stream']) {
      const res = await fetch(`${base}${path}`, method === 'DELETE' ? { method } : { method, body: '{"desiredScale":999}', headers: { 'content-type': 'application/json' } });
      expect(res.status, `${method} ${path}`).toBe(404);
      await res.arrayBuffer();
    }
    const after = ((await (await fetch(`${base}/api/revisions`)).json()) as { revisions: { settings: unknown }[] }).revisions;
    expect(after.map((r) => r.settings)).toEqual(before.map((r) => (r as unknown as { settings: unknown }).settings));
  });
});
