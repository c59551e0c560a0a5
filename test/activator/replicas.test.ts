import { afterEach, describe, expect, it } from 'vitest';
import { type RunningActivator, startActivator } from '../../src/activator/activator.js';
import type { PeerView } from '../../src/activator/peers.js';
import { StaticRoutes } from '../../src/activator/staticRoutes.js';
import { endpointId } from '../../src/activator/target.js';
import { silentLogger } from '../../src/log.js';
import { type App, type Handler, send, startApp, staticTarget } from '../helpers/activatorHarness.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Requests each pod is working on, from its handler's start to its res.end(): what a
 * containerConcurrency limit bounds. (The harness's App.inFlight counts until the response's
 * 'close', which in this one event loop can fire after the activator has already read the whole
 * response, released the slot and sent the next request: it may read one more than there is.)
 */
const working = new WeakMap<App, { now: number; max: number }>();
const maxWorking = (pod: App) => working.get(pod)?.max ?? 0;

/** A pod that takes a while per request, so that concurrent ones overlap on it. */
const slow: Handler = (req, res, app) => {
  const w = working.get(app) ?? { now: 0, max: 0 };
  working.set(app, w);
  w.max = Math.max(w.max, ++w.now);
  req.resume();
  setTimeout(() => {
    w.now--;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('done\n');
  }, 60);
};

async function apps(n: number): Promise<App[]> {
  const all = await Promise.all(Array.from({ length: n }, () => startApp(slow)));
  cleanups.push(() => Promise.all(all.map((a) => a.close())));
  return all;
}

/** An in-process activator in front of `pods` (cc 2), as one of several replicas when `peers` is given. */
async function replica(pods: App[], peers?: PeerView): Promise<RunningActivator> {
  const target = staticTarget('shop', pods.map((p) => p.port), { containerConcurrency: 2 });
  const activator = await startActivator({
    logger: silentLogger(), host: '127.0.0.1', port: 0, adminPort: 0, podName: `activator-${peers?.selfIndex ?? 'x'}`,
    statSink: { send: () => true }, reportEverySecond: false,
    // A generous probe timeout: a probe that times out under load would shrink this replica's ready set
    // and so move its share onto its peer's endpoints for a moment (see StaticRoutes).
    routes: (updates) => new StaticRoutes([target], updates, { intervalMs: 100, timeoutMs: 2000, peers }),
  });
  cleanups.push(() => activator.close(1000));
  return activator;
}

const burst = (activator: RunningActivator, n: number) =>
  Array.from({ length: n }, (_, i) => send(activator.port, 'shop.example.com', `/r${i}`));

describe('two activator replicas in front of the same pods, over real sockets', () => {
  it('with --peers 2 and indexes 0 and 1, 40 concurrent requests to each never put more than cc (2) on a pod, and all 80 are answered 200', async () => {
    const pods = await apps(4);
    const [a, b] = await Promise.all([replica(pods, { selfIndex: 0, count: 2 }), replica(pods, { selfIndex: 1, count: 2 })]);
    const replies = await Promise.all([...burst(a, 40), ...burst(b, 40)]);
    expect(replies.map((r) => r.status)).toEqual(Array(80).fill(200));
    expect(pods.map(maxWorking)).toEqual([2, 2, 2, 2]);
    // Each replica used its own half of the pods, sorted by endpoint id: the halves are disjoint and cover all four.
    const sorted = [...pods].sort((x, y) => (endpointId({ host: '127.0.0.1', port: x.port }) < endpointId({ host: '127.0.0.1', port: y.port }) ? -1 : 1));
    const shop = { namespace: 'default', name: 'shop' };
    expect(a.router.get(shop)!.assignedEndpoints.map((e) => e.port)).toEqual(sorted.slice(0, 2).map((p) => p.port));
    expect(b.router.get(shop)!.assignedEndpoints.map((e) => e.port)).toEqual(sorted.slice(2).map((p) => p.port));
    expect(pods.reduce((sum, p) => sum + p.seen.length, 0)).toBe(80);
    for (const p of sorted.slice(0, 2)) expect(p.seen.length).toBeGreaterThan(0);
    for (const p of sorted.slice(2)) expect(p.seen.length).toBeGreaterThan(0);

    // The peer view is on /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${b.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/^kpa_activator_peers 2$/m);
    expect(metrics).toMatch(/^kpa_activator_peer_index 1$/m);
    expect(metrics).toMatch(/^kpa_activator_endpoints_assigned\{namespace="default",name="shop"\} 2$/m);
    expect(metrics).toMatch(/^kpa_activator_endpoints_ready\{namespace="default",name="shop"\} 4$/m);
  }, 30_000);

  it('the control: with peers unknown each replica enforces cc on its own, and the same load puts 2 × cc on a pod', async () => {
    const pods = await apps(4);
    const [a, b] = await Promise.all([replica(pods), replica(pods)]);
    const replies = await Promise.all([...burst(a, 40), ...burst(b, 40)]);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(Math.max(...pods.map(maxWorking))).toBeGreaterThan(2);
    expect(Math.max(...pods.map(maxWorking))).toBeLessThanOrEqual(4);
    const metrics = await (await fetch(`http://127.0.0.1:${a.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/^kpa_activator_peers 0$/m);
    expect(metrics).toMatch(/^kpa_activator_peer_index -1$/m);
  }, 30_000);
});
