import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeaderElector } from '../../src/k8s/leaderElection.js';
import { silentLogger } from '../../src/log.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer } from './apiServer.js';
import { addDeployment as addDeploymentTo, configAutoscaler, deployment, key, kubeConfigFor, type ModeHarness, OWN_NAMESPACE, replicasOf, startMode, syncPods } from './cluster.js';

// Requests the API server never answers (a hung connection, an overloaded apiserver) must not stall kpa:
// every list and watch is bounded in time, and what a patch confirmed is not patched again. A failed
// patch is retried only while it is still wanted, and only by the leader.
let api: FakeApiServer;
let qp: QueueProxyServer;
let h: ModeHarness | undefined;
let elector: LeaderElector | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than every wait below: only kpa's own timeouts can get past it. */
const HANG_MS = 20_000;

/** Adds an opted-in Deployment with its pods. */
function addDeployment(name: string, annotations: Record<string, string> = {}, replicas = 1): void {
  addDeploymentTo(api, qp.port, name, annotations, replicas);
}

beforeAll(async () => {
  qp = await QueueProxyServer.start();
});
afterAll(async () => {
  await qp.close();
});
beforeEach(async () => {
  api = await FakeApiServer.start();
  api.put('configmaps', configAutoscaler({ 'stable-window': '6s' }));
  addDeployment('a');
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
  await elector?.stop();
  elector = undefined;
  api.clearFaults();
  await api.close();
});

describe('hung API requests', () => {
  it('a watch that never gets response headers is abandoned, and the informer carries on', async () => {
    h = await startMode(api, qp, { watchTimeoutSeconds: () => 1 });
    await until(() => h!.live.service.has(key('a')));
    api.fail({ resource: 'deployments', verb: 'watch', status: 500, delayMs: HANG_MS });
    await sleep(1500); // the open watch ends after 1 s; the next one hangs before its headers
    addDeployment('b');
    await until(() => h!.live.service.has(key('b')), 5000);
  });

  it('a list that never answers fails after the list timeout, and the informer re-lists', async () => {
    h = await startMode(api, qp, { watchTimeoutSeconds: () => 60, listTimeoutMs: 500 });
    await until(() => h!.live.service.has(key('a')));
    api.fail({ resource: 'deployments', verb: 'list', status: 500, delayMs: HANG_MS });
    api.expireWatches(); // 410 Gone: every informer re-lists, the deployments list hangs
    await sleep(100);
    addDeployment('b');
    await until(() => h!.live.service.has(key('b')), 5000);
  });

  it('a ConfigMap list that hangs at start-up does not block start', async () => {
    api.fail({ resource: 'configmaps', verb: 'list', status: 500, delayMs: HANG_MS });
    const blocked = sleep(5000).then(() => {
      throw new Error('start() still waiting for the hung ConfigMap list');
    });
    h = await Promise.race([startMode(api, qp, { listTimeoutMs: 300 }), blocked]);
    await until(() => h!.live.service.has(key('a')), 5000);
  });

  it('while the Deployment watch is down, a confirmed patch is not sent again', async () => {
    h = await startMode(api, qp, { watchTimeoutSeconds: () => 1, requestTimeoutMs: 30_000 });
    await until(() => h!.live.service.has(key('a')));
    api.fail({ resource: 'deployments', verb: 'watch', status: 500, delayMs: HANG_MS });
    await sleep(1500);
    const patches: number[] = [];
    api.onRequest = (call, body) => {
      if (call.verb === 'patch') patches.push((body as { spec: { replicas: number } }).spec.replicas);
    };
    h.load(35);
    await h.run(20, 'a');
    expect(replicasOf(api, 'a')).toBeGreaterThan(1);
    // Each count went out once: no patch repeats the one before it.
    expect(patches.length).toBeGreaterThan(0);
    expect(patches.filter((n, i) => i > 0 && n === patches[i - 1])).toEqual([]);
  });

  it('no watch outlives stop(), even one the informer asked for during a slow re-list', async () => {
    h = await startMode(api, qp, { watchTimeoutSeconds: () => 60 });
    await until(() => h!.live.service.has(key('a')));
    await until(() => api.watchCount === 5);
    api.slow({ resource: 'deployments', verb: 'list', delayMs: 500 });
    api.expireWatches();
    await sleep(100);
    await h.stop();
    h = undefined;
    await sleep(800);
    expect(api.watchCount).toBe(0);
  });
});

describe('failed scale patches', () => {
  const scalePatch = { resource: 'deployments', subresource: 'scale', verb: 'patch' };
  const patchesSent = (): number[] => {
    const sent: number[] = [];
    api.onRequest = (call, body) => {
      if (call.verb === 'patch') sent.push((body as { spec: { replicas: number } }).spec.replicas);
    };
    return sent;
  };
  const withMaxScale = (n: number) => deployment('web', qp.port, { 'autoscaling.knative.dev/max-scale': String(n) }, 5);
  const maxScale = () => h!.live.service.snapshot(key('web'))!.settings.annotations?.['autoscaling.knative.dev/max-scale'];

  it('a retry waiting out its backoff is dropped when the decision goes back to the current count', async () => {
    api.put('deployments', withMaxScale(10));
    syncPods(api, 'web');
    h = await startMode(api, qp);
    await until(() => h!.live.service.has(key('web')));
    h.load(35); // 5 pods at target 7
    await h.run(12, 'web');
    expect(replicasOf(api, 'web')).toBe(5);
    const sent = patchesSent();
    api.fail({ ...scalePatch, status: 503 });
    api.put('deployments', withMaxScale(3)); // the scaler wants 3; that patch fails and waits to be retried
    await until(() => maxScale() === '3');
    h.clock.advance(2);
    h.live.tick();
    await until(() => sent.length === 1);
    api.put('deployments', withMaxScale(10)); // back to 5, which the Deployment has: nothing to do
    await until(() => maxScale() === '10');
    h.clock.advance(2);
    h.live.tick();
    await sleep(500);
    expect(sent).toEqual([3]);
    expect(replicasOf(api, 'web')).toBe(5);
  });

  it('a leader that steps down stops retrying its patch', async () => {
    api.put('deployments', deployment('web', qp.port, {}, 1));
    syncPods(api, 'web');
    elector = new LeaderElector({
      api: kubeConfigFor(api).makeApiClient(CoordinationV1Api), namespace: OWN_NAMESPACE, leaseName: 'kpa-leader', identity: 'a',
      clock: { now: () => Date.now() / 1000 }, logger: silentLogger(), leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
    });
    elector.start();
    await until(() => elector!.isLeader);
    h = await startMode(api, qp, { owns: () => elector!.isLeader });
    await until(() => h!.live.service.has(key('web')));
    let steppedDownAt = Infinity;
    const late: number[] = [];
    api.onRequest = (call) => {
      if (call.verb === 'patch' && Date.now() > steppedDownAt) late.push(Date.now() - steppedDownAt);
    };
    api.fail({ ...scalePatch, status: 503, count: 7 });
    h.load(35);
    await h.run(4, 'web'); // decides 5: the patch fails and is retried with backoff
    api.fail({ resource: 'leases', status: 500, delayMs: 3000, count: 1000 }); // lease requests hang: the leader steps down
    await until(() => !elector!.isLeader, 3000);
    steppedDownAt = Date.now();
    await sleep(3000);
    expect(late).toEqual([]);
  }, 20_000);
});
