import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningActivator, startActivator } from '../../src/activator/activator.js';
import { KubernetesRoutes } from '../../src/activator/kubernetesRoutes.js';
import { ManualClock } from '../../src/clock.js';
import { KubernetesMode } from '../../src/k8s/kubernetesMode.js';
import { silentLogger } from '../../src/log.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { type App, send, startApp } from '../helpers/activatorHarness.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer, type StoredObject } from '../k8s/apiServer.js';
import { APP_NAMESPACE, configAutoscaler, kubeConfigFor, OWN_NAMESPACE, replicasOf, syncPods } from '../k8s/cluster.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const key = { namespace: APP_NAMESPACE, name: 'hello' };

function deployment(replicas: number, annotations: Record<string, string> = {}): StoredObject {
  return {
    metadata: {
      name: 'hello', namespace: APP_NAMESPACE,
      annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/hosts': 'hello.example.com', 'kpa.dev/container-concurrency': '10', ...annotations },
    },
    spec: { replicas, selector: { matchLabels: { app: 'hello' } }, template: {} },
  };
}

const service: StoredObject = {
  metadata: { name: 'hello', namespace: APP_NAMESPACE },
  spec: { selector: { app: 'hello' }, ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
};

/** The EndpointSlice controller's view: one ready endpoint per pod when `ready`, on the app's port. */
function slice(appPort: number, ready: boolean): StoredObject {
  return {
    metadata: { name: 'hello-x7k2p', namespace: APP_NAMESPACE, labels: { 'kubernetes.io/service-name': 'hello' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: appPort, protocol: 'TCP' }],
    endpoints: ready ? [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true, terminating: false } }] : [],
  };
}

/** `until` for async conditions. */
async function eventually(cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Chain {
  api: FakeApiServer;
  clock: ManualClock;
  live: LiveAutoscaler;
  mode: KubernetesMode;
  activator: RunningActivator;
  app: App;
  /** One virtual second: the activator reports, kpa records it, ticks on even seconds; pods and the slice follow replicas. */
  second(): Promise<void>;
}

/** kpa (Kubernetes mode) and kpa activator (Kubernetes routes) against one API test server, on one manual clock. */
async function chain(annotations: Record<string, string> = {}): Promise<Chain> {
  const api = await FakeApiServer.start();
  cleanups.push(() => api.close());
  const app = await startApp();
  cleanups.push(() => app.close());
  api.put('configmaps', configAutoscaler({ 'stable-window': '6s', 'scale-to-zero-grace-period': '8s' }));
  api.put('deployments', deployment(0, annotations));
  api.put('services', service);
  api.put('endpointslices', slice(app.port, false));
  const clock = new ManualClock(1_700_000_000);
  const live = await startLiveAutoscaler({
    logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
  });
  cleanups.push(() => live.close());
  const mode = new KubernetesMode({
    kubeConfig: kubeConfigFor(api), service: live.service, clock, logger: silentLogger(), namespaces: [], classValue: 'kpa.dev',
    ownNamespace: OWN_NAMESPACE, dryRun: false, requestTimeoutMs: 300,
  });
  await mode.start();
  cleanups.push(() => mode.stop());
  const activator = await startActivator({
    logger: silentLogger(), clock, host: '127.0.0.1', port: 0, adminPort: 0, podName: 'kpa-activator-0', reportEverySecond: false,
    statsUrl: `ws://127.0.0.1:${live.statsPort}/`,
    routes: (updates) => new KubernetesRoutes(updates, { kubeConfig: kubeConfigFor(api), logger: silentLogger(), namespaces: [] }),
  });
  cleanups.push(() => activator.close(500));
  await until(() => activator.sender!.connected && activator.router.size === 1 && live.service.has(key));
  const received = () => live.metrics.statsReceived.get().then((m) => m.values.find((v) => v.labels.source === 'activator')?.value ?? 0);
  return {
    api, clock, live, mode, activator, app,
    async second() {
      clock.advance(1);
      const before = await received();
      activator.reporter.report();
      await eventually(async () => (await received()) > before);
      if (clock.now() % 2 === 0) live.tick();
      await new Promise((r) => setTimeout(r, 20)); // patches and watch events land
      syncPods(api, 'hello');
      api.put('endpointslices', slice(app.port, replicasOf(api, 'hello') > 0));
    },
  };
}

describe('kpa activator and kpa in Kubernetes mode, against the API test server', () => {
  it('a request to a Deployment at 0 wakes it: kpa patches 0 → 1 at once, the request completes when the EndpointSlice is ready, and it goes back to 0 after the grace period', async () => {
    const c = await chain();
    for (let i = 0; i < 4; i++) await c.second();
    expect(c.live.service.snapshot(key)).toMatchObject({ metricsSource: 'activator', desiredScale: 0, podCount: 0 });
    expect(replicasOf(c.api, 'hello')).toBe(0);
    const patchesBefore = c.api.calls.filter((x) => x.verb === 'patch').length;

    const reply = send(c.activator.port, 'hello.example.com', '/wake');
    // The first stat wakes it: no tick runs until the test says so.
    await eventually(() => replicasOf(c.api, 'hello') === 1, 3000);
    expect(c.api.calls.filter((x) => x.verb === 'patch').length).toBe(patchesBefore + 1);
    expect(c.activator.router.get(key)!.held).toBe(1);
    // The Deployment controller and kubelet do their part: a ready pod, and the slice lists it.
    syncPods(c.api, 'hello');
    c.api.put('endpointslices', slice(c.app.port, true));
    expect((await reply).status).toBe(200);
    expect(c.app.seen.map((s) => s.url)).toEqual(['/wake']);
    await eventually(() => c.live.service.snapshot(key)!.readyPods === 1);

    // No more traffic: after the stable window it goes inactive, then waits the grace period (8 s) with the pod kept.
    let inactiveAt: number | null = null;
    let zeroAt: number | null = null;
    for (let i = 0; i < 40 && zeroAt === null; i++) {
      await c.second();
      const scale = c.live.service.snapshot(key)!.scale;
      if (scale?.state === 'inactive' && inactiveAt === null) inactiveAt = c.clock.now();
      if (replicasOf(c.api, 'hello') === 0) zeroAt = c.clock.now();
    }
    expect(inactiveAt).not.toBeNull();
    expect(zeroAt).not.toBeNull();
    expect(zeroAt! - inactiveAt!).toBeGreaterThanOrEqual(8);
    const reasons = c.live.service.history(key).map((d) => d.scale?.reason ?? '');
    expect(reasons.some((r) => r.includes('grace period'))).toBe(true);
  }, 60_000);

  it('an activator that stops reporting keeps the last pod: kpa will not scale to zero what nothing could wake', async () => {
    const c = await chain();
    c.api.put('deployments', deployment(1));
    syncPods(c.api, 'hello');
    c.api.put('endpointslices', slice(c.app.port, true));
    // Idle: the activator reports zeros until the Deployment goes inactive (its pod kept for the grace period) …
    for (let i = 0; i < 40 && c.live.service.snapshot(key)!.scale?.state !== 'inactive'; i++) await c.second();
    expect(c.live.service.snapshot(key)!.scale?.state).toBe('inactive');
    expect(replicasOf(c.api, 'hello')).toBe(1);
    // … then it goes away. kpa's last decision stays 0 pods, but nothing could wake the Deployment again.
    await c.activator.close(500);
    cleanups.pop();
    for (let i = 0; i < 40; i++) {
      c.clock.advance(1);
      if (c.clock.now() % 2 === 0) c.live.tick();
      await new Promise((r) => setTimeout(r, 5));
      syncPods(c.api, 'hello');
    }
    expect(replicasOf(c.api, 'hello')).toBe(1);
    expect(c.live.service.snapshot(key)!.scale?.reason).toMatch(/nothing can bring it back/);
  }, 60_000);
});

/** The activator Service's EndpointSlice: the activator replicas' pod IPs, ready or not. */
function activatorSlice(addresses: [string, boolean][]): StoredObject {
  return {
    metadata: { name: 'kpa-activator-q8z4m', namespace: OWN_NAMESPACE, labels: { 'kubernetes.io/service-name': 'kpa-activator' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8012, protocol: 'TCP' }, { name: 'http-metrics', port: 9091, protocol: 'TCP' }],
    endpoints: addresses.map(([ip, ready]) => ({ addresses: [ip], conditions: { ready, serving: ready, terminating: false } })),
  };
}

/** A slice per pod of the shop Deployment: each on 127.0.0.1 with the pod's own port, so four real servers are four endpoints. */
function shopSlice(i: number, port: number): StoredObject {
  return {
    metadata: { name: `shop-${i}`, namespace: APP_NAMESPACE, labels: { 'kubernetes.io/service-name': 'shop' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  };
}

/** Forwards to the API test server, recording each request's URL (the server records verbs, not query strings). */
async function recordingProxy(api: FakeApiServer): Promise<{ url: string; urls: string[] }> {
  const { createServer, request } = await import('node:http');
  const urls: string[] = [];
  const upstream = new URL(api.url);
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      res.flushHeaders(); // a watch's headers come before its first event
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, urls };
}

describe('kpa activator replicas learn their peers from the kpa-activator Service\'s EndpointSlices', () => {
  const shop = { namespace: APP_NAMESPACE, name: 'shop' };

  async function cluster(namespaces: string[], podIP: string) {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    // Requests each pod works on at once, handler start to res.end() (what containerConcurrency bounds;
    // App.inFlight counts to the response's 'close', which may come after the activator reused the slot).
    const working = { now: new Map<number, number>(), max: new Map<number, number>() };
    const pods = await Promise.all([0, 1, 2, 3].map(() => startApp((req, res, app) => {
      const n = (working.now.get(app.port) ?? 0) + 1;
      working.now.set(app.port, n);
      working.max.set(app.port, Math.max(working.max.get(app.port) ?? 0, n));
      req.resume();
      setTimeout(() => {
        working.now.set(app.port, working.now.get(app.port)! - 1);
        res.end('ok');
      }, 40);
    })));
    cleanups.push(() => Promise.all(pods.map((p) => p.close())));
    api.put('deployments', {
      metadata: {
        name: 'shop', namespace: APP_NAMESPACE,
        annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/hosts': 'shop.example.com', 'kpa.dev/container-concurrency': '2' },
      },
      spec: { replicas: 4, selector: { matchLabels: { app: 'shop' } }, template: {} },
    });
    api.put('services', { metadata: { name: 'shop', namespace: APP_NAMESPACE }, spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    pods.forEach((p, i) => api.put('endpointslices', shopSlice(i, p.port)));
    api.put('endpointslices', activatorSlice([['10.0.0.1', true], ['10.0.0.2', true]]));
    // Another Service's slice in the activator's namespace: not a peer.
    api.put('endpointslices', { ...activatorSlice([['10.0.0.7', true]]), metadata: { name: 'kpa-x', namespace: OWN_NAMESPACE, labels: { 'kubernetes.io/service-name': 'kpa' } } });
    const lines: { msg: string; peerIndex?: number; peers?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const activator = await startActivator({
      logger, host: '127.0.0.1', port: 0, adminPort: 0, podName: 'kpa-activator-b', reportEverySecond: false, statSink: { send: () => true },
      routes: (updates) => new KubernetesRoutes(updates, { kubeConfig: kubeConfigFor(api), logger: silentLogger(), namespaces, peers: { namespace: OWN_NAMESPACE, service: 'kpa-activator', podIP } }),
    });
    cleanups.push(() => activator.close(500));
    await until(() => activator.router.get(shop)?.readyEndpoints.length === 4);
    const sortedPorts = pods.map((p) => p.port).sort((a, b) => (`127.0.0.1:${a}` < `127.0.0.1:${b}` ? -1 : 1));
    const assignedPorts = () => activator.router.get(shop)!.assignedEndpoints.map((e) => e.port);
    return { api, pods, activator, lines, sortedPorts, assignedPorts, working };
  }

  it('POD_IP 10.0.0.2 of 10.0.0.1 and 10.0.0.2 is index 1 of 2: it uses the second half of a 4-endpoint target, and follows the Service as replicas come and go', async () => {
    const c = await cluster([], '10.0.0.2');
    await until(() => c.activator.router.peers.selfIndex === 1);
    expect(c.activator.router.peers).toEqual({ selfIndex: 1, count: 2 });
    expect(c.assignedPorts()).toEqual(c.sortedPorts.slice(2));
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => send(c.activator.port, 'shop.example.com', `/${i}`)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const byPort = new Map(c.pods.map((p) => [p.port, p]));
    expect(c.sortedPorts.map((port) => byPort.get(port)!.seen.length > 0)).toEqual([false, false, true, true]);
    expect(Math.max(...c.working.max.values())).toBe(2);
    expect(c.lines.some((l) => l.peerIndex === 1 && l.peers === 2 && /peer 1 of 2/.test(l.msg))).toBe(true);

    // The other replica goes away: this one is 0 of 1 and takes all four.
    c.api.put('endpointslices', activatorSlice([['10.0.0.2', true]]));
    await until(() => c.activator.router.peers.count === 1);
    expect(c.activator.router.peers).toEqual({ selfIndex: 0, count: 1 });
    expect(c.assignedPorts()).toEqual(c.sortedPorts);
    // A rollout adds two: 10.0.0.10 sorts before 10.0.0.2 as a string, as Knative sorts the IPs, so this is 1 of 3.
    c.api.put('endpointslices', activatorSlice([['10.0.0.2', true], ['10.0.0.10', true], ['10.0.0.3', true]]));
    await until(() => c.activator.router.peers.count === 3);
    expect(c.activator.router.peers).toEqual({ selfIndex: 1, count: 3 });
    // 4 endpoints over 3: one each, and the remnant (the last) to index 0.
    expect(c.assignedPorts()).toEqual([c.sortedPorts[1]]);
    // This replica drains (no longer ready): as Knative, it keeps its share for the requests it still gets.
    c.api.put('endpointslices', activatorSlice([['10.0.0.2', false], ['10.0.0.10', true], ['10.0.0.3', true]]));
    await new Promise((r) => setTimeout(r, 100));
    expect(c.activator.router.peers).toEqual({ selfIndex: 1, count: 3 });
    const metrics = await (await fetch(`http://127.0.0.1:${c.activator.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/^kpa_activator_peers 3$/m);
    expect(metrics).toMatch(/^kpa_activator_peer_index 1$/m);
    expect(metrics).toMatch(/^kpa_activator_endpoints_assigned\{namespace="apps",name="shop"\} 1$/m);
  }, 30_000);

  it('a replica not listed yet (not Ready) counts its peers but uses every endpoint', async () => {
    const c = await cluster([], '10.0.0.9');
    await until(() => c.activator.router.peers.count === 2);
    expect(c.activator.router.peers).toEqual({ selfIndex: -1, count: 2 });
    expect(c.assignedPorts()).toEqual(c.sortedPorts);
    // Its pod turns Ready and is listed: it takes its share.
    c.api.put('endpointslices', activatorSlice([['10.0.0.1', true], ['10.0.0.2', true], ['10.0.0.9', true]]));
    await until(() => c.activator.router.peers.selfIndex === 2);
    expect(c.assignedPorts()).toEqual([c.sortedPorts[2]]);
  }, 30_000);

  it('with --namespaces that leave out its own, one more informer watches just its Service\'s slices there (label selector)', async () => {
    const api = await FakeApiServer.start();
    cleanups.push(() => api.close());
    const proxy = await recordingProxy(api);
    const pods = await Promise.all([0, 1, 2, 3].map(() => startApp()));
    cleanups.push(() => Promise.all(pods.map((p) => p.close())));
    api.put('deployments', {
      metadata: { name: 'shop', namespace: APP_NAMESPACE, annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/hosts': 'shop.example.com', 'kpa.dev/container-concurrency': '2' } },
      spec: { replicas: 4, selector: { matchLabels: { app: 'shop' } }, template: {} },
    });
    api.put('services', { metadata: { name: 'shop', namespace: APP_NAMESPACE }, spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    pods.forEach((p, i) => api.put('endpointslices', shopSlice(i, p.port)));
    api.put('endpointslices', activatorSlice([['10.0.0.1', true], ['10.0.0.2', true]]));
    const kubeConfig = kubeConfigFor(api);
    kubeConfig.clusters[0] = { ...kubeConfig.clusters[0], server: proxy.url };
    const activator = await startActivator({
      logger: silentLogger(), host: '127.0.0.1', port: 0, adminPort: 0, podName: 'kpa-activator-a', reportEverySecond: false, statSink: { send: () => true },
      routes: (updates) => new KubernetesRoutes(updates, { kubeConfig, logger: silentLogger(), namespaces: [APP_NAMESPACE], peers: { namespace: OWN_NAMESPACE, service: 'kpa-activator', podIP: '10.0.0.1' } }),
    });
    cleanups.push(() => activator.close(500));
    await until(() => activator.router.get(shop)?.readyEndpoints.length === 4 && activator.router.peers.count === 2);
    expect(activator.router.peers).toEqual({ selfIndex: 0, count: 2 });
    expect(activator.router.get(shop)!.assignedEndpoints.length).toBe(2);
    await until(() => proxy.urls.some((u) => u.startsWith(`/apis/discovery.k8s.io/v1/namespaces/${OWN_NAMESPACE}/endpointslices`) && u.includes('watch=true')));
    const own = proxy.urls.filter((u) => u.startsWith(`/apis/discovery.k8s.io/v1/namespaces/${OWN_NAMESPACE}/endpointslices`));
    expect(own.length).toBeGreaterThanOrEqual(2); // the list and the watch
    for (const u of own) expect(new URL(u, 'http://x').searchParams.get('labelSelector')).toBe('kubernetes.io/service-name=kpa-activator');
    // Nothing else is read in its namespace.
    expect(proxy.urls.filter((u) => u.includes(`/namespaces/${OWN_NAMESPACE}/`)).length).toBe(own.length);
    // /readyz waited for that list too.
    expect((await fetch(`http://127.0.0.1:${activator.adminPort}/readyz`)).status).toBe(200);
    // The peers informer follows changes.
    api.put('endpointslices', activatorSlice([['10.0.0.1', true]]));
    await until(() => activator.router.peers.count === 1);
    expect(activator.router.get(shop)!.assignedEndpoints.length).toBe(4);
  }, 30_000);
});
