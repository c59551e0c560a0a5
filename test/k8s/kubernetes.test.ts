import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StatClient } from '../../src/metrics/statClient.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer } from './apiServer.js';
import {
  addDeployment as addDeploymentTo, APP_NAMESPACE, configAutoscaler, deployment, key, type ModeHarness, OWN_NAMESPACE, pod, replicasOf, startMode, syncPods,
} from './cluster.js';

let api: FakeApiServer;
let qp: QueueProxyServer;
let h: ModeHarness | undefined;

/** Adds an opted-in Deployment with its pods. */
function addDeployment(name: string, annotations: Record<string, string> = {}, replicas = 1): void {
  addDeploymentTo(api, qp.port, name, annotations, replicas);
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
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
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
  await api.close();
});

describe('Kubernetes mode against the API test server', () => {
  it('scales a Deployment under load up with a merge patch on /scale, and a burst panics it further up', async () => {
    addDeployment('web');
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('web')));
    h.load(35); // target 7 per pod (10 × 70 %) → 5 pods
    await h.run(6, 'web');
    await until(() => replicasOf(api, 'web') === 5);
    h.load(350); // ten times what 5 pods take at target → panic
    await h.run(4, 'web');
    expect(h.live.service.snapshot(key('web'))!.latest!.result).toMatchObject({ panic: true });
    expect(replicasOf(api, 'web')).toBeGreaterThan(20);
    const writes = api.calls.filter((c) => !['list', 'watch', 'get'].includes(c.verb));
    expect(writes.length).toBeGreaterThan(0);
    // Scale patches, and the Events that say why.
    expect(writes.filter((c) => c.resource !== 'events').every((c) => c.verb === 'patch' && c.resource === 'deployments' && c.subresource === 'scale')).toBe(true);
    expect(writes.filter((c) => c.resource === 'events').every((c) => c.namespace === APP_NAMESPACE && ['create', 'patch'].includes(c.verb))).toBe(true);
  });

  it('patches only when the replica count changes', async () => {
    addDeployment('steady', {}, 5);
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('steady')));
    h.load(35); // exactly what 5 pods take at target
    await h.run(20, 'steady');
    expect(h.live.service.snapshot(key('steady'))!.desiredScale).toBe(5);
    expect(api.calls.filter((c) => c.verb === 'patch')).toEqual([]);
  });

  it('holds min/max bounds', async () => {
    addDeployment('bounded', { 'autoscaling.knative.dev/max-scale': '3', 'autoscaling.knative.dev/min-scale': '2' });
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('bounded')));
    h.load(500);
    await h.run(6, 'bounded');
    await until(() => replicasOf(api, 'bounded') === 3);
    h.load(0);
    await h.run(80, 'bounded', () => expect(replicasOf(api, 'bounded')).toBeGreaterThanOrEqual(2));
    expect(replicasOf(api, 'bounded')).toBe(2);
  });

  it('scales idle traffic to zero only after the grace period, once the activator reports stats', async () => {
    addDeployment('idle');
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('idle')));
    h.load(3);
    await h.run(4, 'idle');
    h.load(0);
    await h.run(70, 'idle');
    // No activator has reported: nothing could bring it back, so the last pod stays.
    expect(replicasOf(api, 'idle')).toBe(1);
    expect(h.live.service.snapshot(key('idle'))!.scale?.reason).toMatch(/no activator/);
    const activator = await StatClient.connect(`ws://127.0.0.1:${h.live.statsPort}`);
    await activator.send([{ key: key('idle'), stat: stat(0, 0, 'activator') }]);
    await until(() => h!.live.service.activatorSeen(key('idle')));
    await activator.close();
    await h.run(8, 'idle');
    expect(replicasOf(api, 'idle')).toBe(1); // the 10 s grace period is not over yet
    await h.run(4, 'idle');
    await until(() => replicasOf(api, 'idle') === 0);
  });

  it('scales to zero without an activator only when the Deployment opts in', async () => {
    addDeployment('optin', { 'kpa.dev/scale-to-zero-without-activator': 'true' });
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('optin')));
    h.load(3);
    await h.run(4, 'optin');
    h.load(0);
    let zeroAt = -1;
    await h.run(40, 'optin', (s) => {
      if (zeroAt < 0 && replicasOf(api, 'optin') === 0) zeroAt = s;
    });
    expect(zeroAt).toBeGreaterThan(10); // never inside the 10 s grace period
  });

  it('applies a ConfigMap edit live and rejects an invalid one, naming the key and rule, keeping the last good config', async () => {
    addDeployment('cfg');
    const log = capturingLogger();
    h = await startMode(api, qp, { logger: log.logger });
    await until(() => h!.live.service.has(key('cfg')));
    expect(h.live.service.snapshot(key('cfg'))!.spec.targetValue).toBe(7);
    api.put('configmaps', configAutoscaler({ 'stable-window': '6s', 'container-concurrency-target-percentage': '50' }));
    await until(() => h!.live.service.snapshot(key('cfg'))!.spec.targetValue === 5);
    api.put('configmaps', configAutoscaler({ 'stable-window': '5s' })); // Knative's minimum is 6 s
    await until(() => log.lines().some((l) => l.key === 'stable-window'));
    const rejected = log.lines().find((l) => l.key === 'stable-window')!;
    expect(rejected).toMatchObject({ value: '5s' });
    expect(String(rejected.rule)).not.toBe('');
    expect(h.live.service.snapshot(key('cfg'))!.spec).toMatchObject({ targetValue: 5, stableWindowSeconds: 6 });
  });

  it('retries injected 500, 409, 429 and a timeout on the scale patch', async () => {
    addDeployment('flaky');
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('flaky')));
    const patch = { resource: 'deployments', subresource: 'scale', verb: 'patch' };
    api.fail({ ...patch, status: 500 });
    api.fail({ ...patch, status: 409 });
    api.fail({ ...patch, status: 429 });
    api.fail({ ...patch, status: 503, delayMs: 1500 }); // answers after the 300 ms request timeout: a timeout, retried
    h.load(35);
    await h.run(4, 'flaky');
    await until(() => replicasOf(api, 'flaky') === 5, 15_000);
    expect(api.calls.filter((c) => c.verb === 'patch').length).toBe(5); // 500, 409, 429, timeout, success
    await h.run(4, 'flaky'); // the loop goes on
    expect(replicasOf(api, 'flaky')).toBe(5);
  });

  it('re-lists after a failed watch, a 410 expiry and a watch timeout, and drops a deleted Deployment', async () => {
    h = await startMode(api, qp, { watchTimeoutSeconds: () => 1 });
    const seen = (name: string) => until(() => h!.live.service.has(key(name)), 10_000);
    // A watch answered 500, then the re-list fails too: the informer restarts with backoff.
    api.fail({ resource: 'deployments', verb: 'watch', status: 500 });
    api.fail({ resource: 'deployments', verb: 'list', status: 503 });
    api.expireWatches();
    addDeployment('a');
    await seen('a');
    // Every informer's watch expires (410): each re-lists.
    await until(() => api.watchCount === 5); // the ConfigMap's, Deployments', pods', HPAs' and ScaledObjects' informers are watching again
    const listsBefore = api.calls.filter((c) => c.verb === 'list').length;
    api.expireWatches();
    addDeployment('b');
    await seen('b');
    await until(() => api.calls.filter((c) => c.verb === 'list').length >= listsBefore + 5);
    // Watches time out after 1 s (with a bookmark first) and resume from where they were, without a re-list.
    const watchesBefore = api.calls.filter((c) => c.verb === 'watch').length;
    const listsAfterExpiry = api.calls.filter((c) => c.verb === 'list').length;
    await until(() => api.calls.filter((c) => c.verb === 'watch').length >= watchesBefore + 5, 5000);
    addDeployment('c');
    await seen('c');
    expect(api.calls.filter((c) => c.verb === 'list').length).toBe(listsAfterExpiry);
    // Deleted while its scale patch keeps failing: dropped, and its retries stop.
    api.fail({ resource: 'deployments', subresource: 'scale', verb: 'patch', status: 503, count: 1000 });
    const patchesOfC = () => api.calls.filter((c) => c.verb === 'patch' && c.name === 'c').length;
    h.load(35);
    await h.run(4, 'c');
    await until(() => patchesOfC() > 0);
    api.remove('deployments', APP_NAMESPACE, 'c');
    await until(() => !h!.live.service.has(key('c')));
    await new Promise((r) => setTimeout(r, 100)); // a retry already under way may still land
    const afterDrop = patchesOfC();
    await new Promise((r) => setTimeout(r, 1500)); // longer than several backoff steps
    expect(patchesOfC()).toBe(afterDrop);
  });

  it('counts only ready pods of the Deployment', async () => {
    addDeployment('pods', {}, 3);
    api.put('pods', pod('pods', 2, false)); // the third is not ready
    api.put('pods', { ...pod('other', 0), metadata: { name: 'stranger', namespace: APP_NAMESPACE, labels: { app: 'other' } } });
    h = await startMode(api, qp);
    await until(() => h!.live.service.snapshot(key('pods'))?.podCount === 2);
    api.put('pods', pod('pods', 2, true));
    await until(() => h!.live.service.snapshot(key('pods'))?.podCount === 3);
    api.remove('pods', APP_NAMESPACE, 'pods-0');
    await until(() => h!.live.service.snapshot(key('pods'))?.podCount === 2);
  });

  it('a restarted kpa does not scale a busy Deployment down: its decider starts in panic holding the ready pods', async () => {
    addDeployment('busy', {}, 6);
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('busy')));
    h.load(7); // a quarter of what 6 pods take: a fresh decider outside panic would scale down
    await h.run(6, 'busy');
    expect(h.live.service.snapshot(key('busy'))!.latest).toMatchObject({ result: { valid: true, panic: true, desiredPodCount: 6 } });
    expect(replicasOf(api, 'busy')).toBe(6);
  });

  it('watches only the listed namespaces, one informer each', async () => {
    for (const ns of ['team-a', 'team-b', 'elsewhere']) api.put('deployments', deployment(`d-${ns}`, qp.port, {}, 1, ns));
    api.put('deployments', { ...deployment('plain', qp.port), metadata: { name: 'plain', namespace: 'team-a' } }); // not opted in
    h = await startMode(api, qp, { namespaces: ['team-a', 'team-b'] });
    await until(() => h!.live.service.has(key('d-team-a', 'team-a')) && h!.live.service.has(key('d-team-b', 'team-b')));
    expect(h.live.service.has(key('d-elsewhere', 'elsewhere'))).toBe(false);
    expect(h.live.service.has(key('plain', 'team-a'))).toBe(false);
    const informerCalls = api.calls.filter((c) => c.verb === 'list' || c.verb === 'watch');
    expect(informerCalls.filter((c) => c.namespace === undefined)).toEqual([]);
    expect(new Set(informerCalls.map((c) => `${c.namespace}/${c.resource}`))).toEqual(new Set([
      'team-a/deployments', 'team-a/pods', 'team-b/deployments', 'team-b/pods', `${OWN_NAMESPACE}/configmaps`,
      'team-a/horizontalpodautoscalers', 'team-a/scaledobjects', 'team-b/horizontalpodautoscalers', 'team-b/scaledobjects',
    ]));
  });

  it('a Deployment that opts out, or gets a bad annotation, is handled without crashing', async () => {
    addDeployment('moody');
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('moody')));
    api.put('deployments', deployment('moody', qp.port, { 'autoscaling.knative.dev/target': 'lots' }));
    await new Promise((r) => setTimeout(r, 100));
    expect(h.live.service.has(key('moody'))).toBe(true); // the previous settings stay
    api.put('deployments', deployment('moody', qp.port, { 'autoscaling.knative.dev/class': 'hpa.autoscaling.knative.dev' }));
    await until(() => !h!.live.service.has(key('moody')));
  });
});

describe('shadow mode and followers', () => {
  it('dry run never patches, and shows what it would apply next to the actual replicas in /api/revisions', async () => {
    addDeployment('shadow');
    h = await startMode(api, qp, { dryRun: true });
    await until(() => h!.live.service.has(key('shadow')));
    h.load(35);
    await h.run(6, 'shadow');
    expect(h.live.service.snapshot(key('shadow'))!.scale).toMatchObject({ dryRun: true, wantReplicas: 5, currentReplicas: 1 });
    const body = (await (await fetch(`http://127.0.0.1:${h.live.httpPort}/api/revisions`)).json()) as { revisions: { name: string; scale: unknown }[] };
    expect(body.revisions.find((r) => r.name === 'shadow')?.scale).toMatchObject({ dryRun: true, wantReplicas: 5, currentReplicas: 1 });
    expect(api.calls.some((c) => c.verb === 'patch')).toBe(false);
    expect(replicasOf(api, 'shadow')).toBe(1);
  });

  it('a revision another replica owns is not scraped, decided or patched here; taken over, its decider starts in panic with the ready pods', async () => {
    addDeployment('follower', {}, 3);
    let owned = false;
    h = await startMode(api, qp, { owns: () => owned });
    await new Promise((r) => setTimeout(r, 200)); // the informers have synced: the Deployment is known
    expect(h.live.service.has(key('follower'))).toBe(false);
    expect(h.mode.targetCounts()).toEqual({ known: 1, owned: 0 });
    h.load(0);
    await h.run(4, 'follower');
    expect(api.calls.some((c) => c.verb === 'patch')).toBe(false);
    owned = true;
    expect(h.mode.ownershipChanged()).toEqual({ taken: 1, released: 0 });
    const snap = h.live.service.snapshot(key('follower'))!;
    // Knative's restart guard: more than one ready pod, so no scale-down on the empty windows of a fresh decider.
    expect(snap.readyPods).toBe(3);
    await h.run(4, 'follower'); // within this file's 6 s stable window
    const decided = h.live.service.history(key('follower')).map((d) => d.result);
    expect(decided.length).toBeGreaterThan(0);
    for (const d of decided) expect(d).toMatchObject({ valid: true, panic: true, desiredPodCount: 3, stableValue: 0 });
    expect(replicasOf(api, 'follower')).toBe(3);
    owned = false;
    expect(h.mode.ownershipChanged()).toEqual({ taken: 0, released: 1 });
    expect(h.live.service.has(key('follower'))).toBe(false);
  });
});
