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
    ownNamespace: OWN_NAMESPACE, dryRun: false, isLeader: () => true, requestTimeoutMs: 300,
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
