import { CoreV1Api } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesMetrics } from '../../src/k8s/k8sMetrics.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer, type StoredObject } from './apiServer.js';
import { addDeployment as addDeploymentTo, APP_NAMESPACE, configAutoscaler, key, kubeConfigFor, type ModeHarness, replicasOf, startMode } from './cluster.js';

let api: FakeApiServer;
let qp: QueueProxyServer;
let h: ModeHarness | undefined;
let registry: Registry;
let metrics: KubernetesMetrics;

function capturingLogger() {
  const out: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _e, done) { out.push(chunk.toString()); done(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }) };
}

interface StoredEvent extends StoredObject {
  involvedObject: { apiVersion: string; kind: string; namespace: string; name: string; uid: string; resourceVersion: string };
  type: string;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host: string };
  reportingComponent: string;
  reportingInstance: string;
}

const eventsOf = (reason?: string) => (api.objectsOf('events', APP_NAMESPACE) as StoredEvent[]).filter((e) => reason === undefined || e.reason === reason);
const scalePatches = (name: string) => api.calls.filter((c) => c.verb === 'patch' && c.subresource === 'scale' && c.name === name).length;
/** A series' value as /metrics would give it. */
async function series(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

function hpa(name: string, target: string, extra: Partial<StoredObject['metadata']> = {}): StoredObject {
  return {
    metadata: { name, namespace: APP_NAMESPACE, ...extra },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, minReplicas: 1, maxReplicas: 10 },
  };
}

function scaledObject(name: string, target: string): StoredObject {
  return { metadata: { name, namespace: APP_NAMESPACE }, spec: { scaleTargetRef: { name: target }, triggers: [{ type: 'cpu', metadata: { value: '60' } }] } };
}

beforeAll(async () => {
  qp = await QueueProxyServer.start();
});
afterAll(async () => {
  await qp.close();
});
beforeEach(async () => {
  api = await FakeApiServer.start();
  api.put('configmaps', configAutoscaler({ 'stable-window': '6s', 'scale-to-zero-grace-period': '10s' }));
  registry = new Registry();
  metrics = new KubernetesMetrics(registry);
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
  await api.close();
});

describe('KPAScaled Events', () => {
  it('an applied scale change is a Normal KPAScaled Event on the Deployment saying why, found as kubectl describe finds it', async () => {
    addDeploymentTo(api, qp.port, 'web');
    h = await startMode(api, qp, { metrics, identity: 'kpa-0' });
    await until(() => h!.live.service.has(key('web')));
    h.load(35); // target 7 per pod → 5 pods
    await h.run(6, 'web');
    await until(() => replicasOf(api, 'web') === 5);
    await until(() => eventsOf('KPAScaled').length === 1);
    const [e] = eventsOf('KPAScaled');
    const deployment = api.get('deployments', APP_NAMESPACE, 'web')!;
    expect(e).toMatchObject({
      type: 'Normal', reason: 'KPAScaled', count: 1,
      involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: APP_NAMESPACE, name: 'web', uid: deployment.metadata.uid },
      source: { component: 'kpa', host: 'kpa-0' }, reportingComponent: 'kpa', reportingInstance: 'kpa-0',
    });
    // The decision's own explanation (a fresh decider with a ready pod starts in panic: Knative's restart guard).
    expect(e.message).toMatch(/^scaled 1 → 5: (panic|stable): .*average 35 concurrent requests .*target 7 concurrent requests per pod.* → 5 pods( \(stable .*\))?$/);
    const history = (await (await fetch(`http://127.0.0.1:${h.live.httpPort}/api/revisions/${APP_NAMESPACE}/web`)).json()) as { history: { explanation: string }[] };
    expect(history.history.map((d) => `scaled 1 → 5: ${d.explanation}`)).toContain(e.message);
    expect(e.firstTimestamp).toBe(e.lastTimestamp);
    // kubectl describe deployment: core/v1 Events selected by involvedObject.
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    const listed = await core.listNamespacedEvent({
      namespace: APP_NAMESPACE, fieldSelector: `involvedObject.name=web,involvedObject.namespace=${APP_NAMESPACE},involvedObject.kind=Deployment,involvedObject.uid=${deployment.metadata.uid}`,
    });
    expect(listed.items.map((x) => x.reason)).toEqual(['KPAScaled']);
    expect(await series('kpa_scale_patches_total', { result: 'applied' })).toBe(1);
    await h.mode.events.flush();
    expect(await series('kpa_events_total', { reason: 'KPAScaled', result: 'sent' })).toBe(1);
  });

  it('a repeat of an identical event bumps the count and lastTimestamp of the same Event (a PATCH), and the rate limit drops after the burst', async () => {
    addDeploymentTo(api, qp.port, 'web');
    h = await startMode(api, qp, { metrics });
    await until(() => h!.live.service.has(key('web')));
    const object = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: APP_NAMESPACE, name: 'web', uid: api.get('deployments', APP_NAMESPACE, 'web')!.metadata.uid as string };
    const input = { object, type: 'Normal' as const, reason: 'KPAScaled', message: 'scaled 1 → 5: test' };
    h.mode.events.record(input);
    await h.mode.events.flush();
    const first = eventsOf()[0];
    h.clock.advance(30);
    h.mode.events.record(input);
    await h.mode.events.flush();
    expect(eventsOf()).toHaveLength(1);
    const bumped = eventsOf()[0];
    expect(bumped).toMatchObject({ count: 2, firstTimestamp: first.firstTimestamp, message: input.message });
    expect(new Date(bumped.lastTimestamp).getTime() - new Date(first.lastTimestamp).getTime()).toBe(30_000);
    expect(api.calls.filter((c) => c.resource === 'events').map((c) => `${c.verb} ${c.name}`)).toEqual(['create undefined', `patch ${first.metadata.name}`]);
    // 23 more go through (25 in the burst), the next 5 are dropped and counted; once a token has refilled one more goes.
    for (let i = 0; i < 28; i++) h.mode.events.record(input);
    await h.mode.events.flush();
    expect(eventsOf()[0].count).toBe(25);
    expect(await series('kpa_events_total', { reason: 'KPAScaled', result: 'dropped' })).toBe(5);
    // One token every 300 s; the 30 s above left a tenth of one: at +260 s not yet a whole token, at +280 s one.
    h.clock.advance(260);
    h.mode.events.record(input);
    expect(await series('kpa_events_total', { reason: 'KPAScaled', result: 'dropped' })).toBe(6);
    h.clock.advance(20);
    h.mode.events.record(input);
    await h.mode.events.flush();
    expect(eventsOf()[0].count).toBe(32); // what was dropped still counts, as client-go's correlator
    expect(await series('kpa_events_total', { reason: 'KPAScaled', result: 'sent' })).toBe(26);
  });

  it('failing Event writes never hold up a scale patch, and are logged once per Deployment', async () => {
    addDeploymentTo(api, qp.port, 'web');
    const log = capturingLogger();
    api.fail({ resource: 'events', verb: 'create', status: 403, count: 100 });
    h = await startMode(api, qp, { metrics, logger: log.logger });
    await until(() => h!.live.service.has(key('web')));
    h.load(35);
    await h.run(6, 'web');
    await until(() => replicasOf(api, 'web') === 5);
    h.load(350);
    await h.run(6, 'web');
    await until(() => replicasOf(api, 'web') > 20);
    await h.mode.events.flush();
    expect(scalePatches('web')).toBeGreaterThanOrEqual(2);
    expect(await series('kpa_events_total', { reason: 'KPAScaled', result: 'failed' })).toBeGreaterThanOrEqual(2);
    expect(log.lines().filter((l) => /could not write an event/.test(l.msg))).toHaveLength(1);
    expect(await series('kpa_kubernetes_api_errors_total', { code: '403' })).toBeGreaterThanOrEqual(2);
  });

  it('dry run writes no Events', async () => {
    addDeploymentTo(api, qp.port, 'web');
    api.put('horizontalpodautoscalers', hpa('web', 'web'));
    h = await startMode(api, qp, { metrics, dryRun: true });
    await until(() => h!.live.service.has(key('web')));
    h.load(35);
    await h.run(6, 'web');
    await h.mode.events.flush();
    expect(h.mode.standingDownFor(key('web'))).toHaveLength(1);
    expect(api.calls.filter((c) => c.resource === 'events')).toEqual([]);
  });
});

describe('another autoscaler on the same Deployment', () => {
  it('an HPA targeting the Deployment: a Warning KPAConflict Event, no more patches, the reason in the API; deleting it resumes', async () => {
    addDeploymentTo(api, qp.port, 'web');
    addDeploymentTo(api, qp.port, 'other');
    const log = capturingLogger();
    h = await startMode(api, qp, { metrics, logger: log.logger });
    await until(() => h!.live.service.has(key('web')));
    h.load(35);
    await h.run(6, 'web');
    await until(() => replicasOf(api, 'web') === 5);
    api.put('horizontalpodautoscalers', hpa('hello', 'web'));
    api.put('horizontalpodautoscalers', hpa('elsewhere', 'not-autoscaled'));
    await until(() => h!.mode.standingDownFor(key('web')).length === 1);
    await until(() => eventsOf('KPAConflict').length === 1);
    expect(eventsOf('KPAConflict')[0]).toMatchObject({
      type: 'Warning', involvedObject: { kind: 'Deployment', name: 'web' },
      message: `HorizontalPodAutoscaler ${APP_NAMESPACE}/hello also scales this Deployment; kpa stands down for it until it is removed`,
    });
    expect(h.mode.standingDownFor(key('other'))).toEqual([]);
    expect(log.lines().some((l) => l.level === 40 && l.msg.includes(`HorizontalPodAutoscaler ${APP_NAMESPACE}/hello also scales ${APP_NAMESPACE}/web`))).toBe(true);
    expect(await series('kpa_conflicts', { kind: 'HorizontalPodAutoscaler' })).toBe(1);
    expect(await series('kpa_conflicts', { kind: 'ScaledObject' })).toBe(0);

    const before = scalePatches('web');
    h.load(350); // would panic far up
    await h.run(8, 'web');
    expect(scalePatches('web')).toBe(before);
    expect(replicasOf(api, 'web')).toBe(5);
    expect(h.live.service.snapshot(key('web'))!.desiredScale).toBeGreaterThan(20); // still decided and shown
    const shown = (await (await fetch(`http://127.0.0.1:${h.live.httpPort}/api/revisions`)).json()) as { revisions: { name: string; scale: { reason: string } }[] };
    expect(shown.revisions.find((r) => r.name === 'web')!.scale.reason).toMatch(/^standing down: HorizontalPodAutoscaler apps\/hello also scales this Deployment/);
    expect(eventsOf('KPAConflict')).toHaveLength(1); // announced once, not every tick

    api.remove('horizontalpodautoscalers', APP_NAMESPACE, 'hello');
    await until(() => h!.mode.standingDownFor(key('web')).length === 0);
    await h.run(4, 'web');
    await until(() => replicasOf(api, 'web') > 20);
    await until(() => eventsOf('KPAResumed').length === 1);
    expect(eventsOf('KPAResumed')[0].message).toBe(`HorizontalPodAutoscaler ${APP_NAMESPACE}/hello no longer scales this Deployment; kpa autoscales it again`);
    expect(await series('kpa_conflicts', { kind: 'HorizontalPodAutoscaler' })).toBe(0);
  });

  it('an HPA present at start-up: kpa never patches the Deployment', async () => {
    addDeploymentTo(api, qp.port, 'web');
    api.put('horizontalpodautoscalers', hpa('hello', 'web'));
    h = await startMode(api, qp, { metrics });
    await until(() => h!.live.service.has(key('web')));
    h.load(350);
    await h.run(6, 'web');
    expect(scalePatches('web')).toBe(0);
    await until(() => eventsOf('KPAConflict').length === 1);
  });

  it('a KEDA ScaledObject (kind defaulting to Deployment), and the HPA KEDA makes for it, are one conflict named after the ScaledObject', async () => {
    addDeploymentTo(api, qp.port, 'web');
    h = await startMode(api, qp, { metrics });
    await until(() => h!.live.service.has(key('web')));
    api.put('scaledobjects', scaledObject('web-so', 'web'));
    api.put('horizontalpodautoscalers', hpa('keda-hpa-web-so', 'web', { ownerReferences: [{ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'web-so', uid: 'x', controller: true }] }));
    await until(() => h!.mode.standingDownFor(key('web')).length === 1);
    expect(h.mode.standingDownFor(key('web'))).toEqual([{ kind: 'ScaledObject', namespace: APP_NAMESPACE, name: 'web-so' }]);
    await until(() => eventsOf('KPAConflict').length === 1);
    expect(eventsOf('KPAConflict')[0].message).toMatch(/^ScaledObject apps\/web-so also scales this Deployment/);
    expect(await series('kpa_conflicts', { kind: 'ScaledObject' })).toBe(1);
    // KEDA's HPA goes first (garbage collection), then the ScaledObject: kpa resumes only once both are gone.
    api.remove('horizontalpodautoscalers', APP_NAMESPACE, 'keda-hpa-web-so');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.mode.standingDownFor(key('web'))).toHaveLength(1);
    api.remove('scaledobjects', APP_NAMESPACE, 'web-so');
    await until(() => h!.mode.standingDownFor(key('web')).length === 0);
  });

  it('without the ScaledObject CRD everything works, it is said once at info, and ScaledObjects are watched once it is installed', async () => {
    api.uninstallCrd('scaledobjects');
    addDeploymentTo(api, qp.port, 'web');
    const log = capturingLogger();
    h = await startMode(api, qp, { metrics, logger: log.logger, absentCrdRetryMs: 200 });
    await until(() => h!.live.service.has(key('web')));
    h.load(35);
    await h.run(6, 'web');
    await until(() => replicasOf(api, 'web') === 5);
    await new Promise((r) => setTimeout(r, 700)); // a few retries
    const lists = api.calls.filter((c) => c.resource === 'scaledobjects' && c.verb === 'list').length;
    expect(lists).toBeGreaterThanOrEqual(3);
    expect(lists).toBeLessThan(10); // rarely, not in a tight backoff
    const about = log.lines().filter((l) => /ScaledObject/.test(l.msg));
    expect(about).toEqual([expect.objectContaining({ level: 30, msg: expect.stringContaining('not served') })]);
    expect(log.lines().filter((l) => l.level >= 40)).toEqual([]);
    api.installCrd('scaledobjects');
    api.put('scaledobjects', scaledObject('web-so', 'web'));
    await until(() => h!.mode.standingDownFor(key('web')).length === 1);
    expect(log.lines().some((l) => l.level === 30 && /ScaledObjects are served now/.test(l.msg))).toBe(true);
  });
});
