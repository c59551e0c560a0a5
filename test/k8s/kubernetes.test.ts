import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { KubernetesMode } from '../../src/k8s/kubernetesMode.js';
import { LeaderElector } from '../../src/k8s/leaderElection.js';
import { silentLogger } from '../../src/log.js';
import { StatClient } from '../../src/metrics/statClient.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { FakeApiServer, type RecordedCall } from './apiServer.js';
import { spawnKpa } from '../helpers/cliHarness.js';
import { until } from '../helpers/wait.js';

const allCalls: RecordedCall[] = [];
let api: FakeApiServer;
let qp: QueueProxyServer;
let live: LiveAutoscaler;
let mode: KubernetesMode;
let clock: ManualClock;

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

function deployment(name: string, annotations: Record<string, string> = {}, replicas = 1) {
  return {
    metadata: {
      name, namespace: 'apps',
      annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/container-concurrency': '10', 'kpa.dev/metrics-port': String(qp.port), ...annotations },
    },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: {} },
  };
}

function pod(app: string, i: number) {
  return {
    metadata: { name: `${app}-${i}`, namespace: 'apps', labels: { app } },
    status: { phase: 'Running', podIP: '127.0.0.1', startTime: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** Makes the fake cluster's pods follow the Deployment's replicas, as the Deployment controller would. */
function syncPods(app: string): void {
  const replicas = (api.get('deployments', 'apps', app)?.spec as { replicas: number }).replicas;
  for (let i = 0; i < 50; i++) {
    if (i < replicas) {
      if (!api.get('pods', 'apps', `${app}-${i}`)) api.put('pods', pod(app, i));
    } else api.remove('pods', 'apps', `${app}-${i}`);
  }
}

const replicasOf = (name: string) => (api.get('deployments', 'apps', name)?.spec as { replicas: number }).replicas;

/** Total requests in flight for the app under test, shared by its ready pods. */
let totalLoad = 0;
function load(total: number): void {
  totalLoad = total;
}

/** Virtual seconds: scrape every second, tick every 2 s, pods follow the Deployment and share the load. */
async function run(seconds: number, app: string): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    const pods = Math.max(1, replicasOf(app));
    qp.set('metrics', stat(totalLoad / pods));
    clock.advance(1);
    await live.scrapeLoop.runOnce();
    if (clock.now() % 2 === 0) live.tick();
    await new Promise((r) => setTimeout(r, 15)); // let patches and watch events land
    syncPods(app);
  }
}

async function startMode(options: { dryRun?: boolean; isLeader?: () => boolean } = {}): Promise<void> {
  clock = new ManualClock(1_700_000_000);
  live = await startLiveAutoscaler({ logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000 });
  mode = new KubernetesMode({
    kubeConfig: kubeConfig(), service: live.service, clock, logger: silentLogger(), namespaces: [], classValue: 'kpa.dev',
    ownNamespace: 'kpa-system', dryRun: options.dryRun ?? false, isLeader: options.isLeader ?? (() => true), requestTimeoutMs: 300,
  });
  await mode.start();
}

beforeAll(async () => {
  qp = await QueueProxyServer.start();
});
afterAll(async () => {
  await qp.close();
});
beforeEach(async () => {
  api = await FakeApiServer.start();
  api.put('configmaps', { metadata: { name: 'config-autoscaler', namespace: 'kpa-system' }, data: { 'stable-window': '6s', 'scale-to-zero-grace-period': '10s' } });
  load(0);
});
afterEach(async () => {
  await mode?.stop();
  await live?.close();
  allCalls.push(...api.calls);
  await api.close();
});

describe('Kubernetes mode against the API test server', () => {
  it('scales a Deployment under load up, and a burst panics it further up', async () => {
    api.put('deployments', deployment('web'));
    syncPods('web');
    await startMode();
    await until(() => live.service.has({ namespace: 'apps', name: 'web' }));
    load(35); // target 7 per pod → 5 pods
    await run(6, 'web');
    await until(() => replicasOf('web') === 5);
    load(350); // a burst: 10× what 5 pods take at target → panic
    await run(4, 'web');
    expect(live.service.snapshot({ namespace: 'apps', name: 'web' })!.latest!.result).toMatchObject({ panic: true });
    expect(replicasOf('web')).toBeGreaterThan(20);
    expect(api.calls.filter((c) => c.verb === 'patch').every((c) => c.resource === 'deployments/scale')).toBe(true);
  });

  it('holds min/max bounds', async () => {
    api.put('deployments', deployment('bounded', { 'autoscaling.knative.dev/max-scale': '3', 'autoscaling.knative.dev/min-scale': '2' }));
    syncPods('bounded');
    await startMode();
    await until(() => live.service.has({ namespace: 'apps', name: 'bounded' }));
    load(500);
    await run(6, 'bounded');
    await until(() => replicasOf('bounded') === 3);
    load(0);
    await run(80, 'bounded');
    expect(replicasOf('bounded')).toBe(2);
  });

  it('scales idle traffic to zero only after the grace period, once the activator reports stats', async () => {
    api.put('deployments', deployment('idle'));
    syncPods('idle');
    await startMode();
    const key = { namespace: 'apps', name: 'idle' };
    await until(() => live.service.has(key));
    load(3);
    await run(4, 'idle');
    load(0);
    await run(70, 'idle');
    // No activator has reported: the last pod stays.
    expect(replicasOf('idle')).toBe(1);
    expect(live.service.snapshot(key)!.scale?.reason).toMatch(/no activator/);
    const activator = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    await activator.send([{ key, stat: stat(0, 0, 'activator') }]);
    await until(() => live.service.activatorSeen(key));
    await activator.close();
    await run(8, 'idle');
    expect(replicasOf('idle')).toBe(1); // grace period (10 s) not over yet
    await run(4, 'idle');
    await until(() => replicasOf('idle') === 0);
  });

  it('applies a ConfigMap edit live and rejects an invalid one', async () => {
    api.put('deployments', deployment('cfg'));
    syncPods('cfg');
    await startMode();
    const key = { namespace: 'apps', name: 'cfg' };
    await until(() => live.service.has(key));
    expect(live.service.snapshot(key)!.spec.targetValue).toBe(7);
    api.put('configmaps', { metadata: { name: 'config-autoscaler', namespace: 'kpa-system' }, data: { 'stable-window': '6s', 'container-concurrency-target-percentage': '50' } });
    await until(() => live.service.snapshot(key)!.spec.targetValue === 5);
    api.put('configmaps', { metadata: { name: 'config-autoscaler', namespace: 'kpa-system' }, data: { 'stable-window': '5s' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(live.service.snapshot(key)!.spec).toMatchObject({ targetValue: 5, stableWindowSeconds: 6 });
  });

  it('retries injected 5xx, 409 and a timeout on the scale patch, and survives expired watches', async () => {
    api.put('deployments', deployment('flaky'));
    syncPods('flaky');
    await startMode();
    await until(() => live.service.has({ namespace: 'apps', name: 'flaky' }));
    api.fail('deployments', 'PATCH', 500, 1);
    api.fail('deployments', 'PATCH', 409, 1);
    api.fail('deployments', 'PATCH', 503, 1, 1500); // answers too late: a timeout, retried
    load(35);
    await run(4, 'flaky');
    await until(() => replicasOf('flaky') === 5, 10_000);
    expect(api.calls.filter((c) => c.verb === 'patch').length).toBeGreaterThanOrEqual(4); // 500, 409, timeout, success
    api.expireWatches(); // informers see 410 and re-list
    api.bookmark();
    api.put('deployments', deployment('late'));
    syncPods('late');
    await until(() => live.service.has({ namespace: 'apps', name: 'late' }), 10_000);
    api.remove('deployments', 'apps', 'late');
    await until(() => !live.service.has({ namespace: 'apps', name: 'late' }));
  });

  it('dry run and followers never patch', async () => {
    api.put('deployments', deployment('shadow'));
    syncPods('shadow');
    await startMode({ dryRun: true });
    const key = { namespace: 'apps', name: 'shadow' };
    await until(() => live.service.has(key));
    load(35);
    await run(6, 'shadow');
    expect(live.service.snapshot(key)!.scale).toMatchObject({ dryRun: true, wantReplicas: 5, currentReplicas: 1 });
    expect(api.calls.some((c) => c.verb === 'patch')).toBe(false);
    expect(replicasOf('shadow')).toBe(1);
  });
});

describe('leader election on a Lease', () => {
  let server: FakeApiServer;
  beforeAll(async () => {
    server = await FakeApiServer.start();
  });
  afterAll(async () => {
    allCalls.push(...server.calls);
    await server.close();
  });

  it('elects one leader and fails over when it stops renewing', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 't', server: server.url, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'c', cluster: 't', user: 'u' }], currentContext: 'c' });
    const make = (identity: string) => new LeaderElector({
      api: kc.makeApiClient(CoordinationV1Api), namespace: 'kpa-system', leaseName: 'kpa-leader', identity,
      clock: { now: () => Date.now() / 1000 }, logger: silentLogger(), leaseDurationSeconds: 1, renewDeadlineSeconds: 0.8, retryPeriodSeconds: 0.1,
    });
    const a = make('a');
    const b = make('b');
    a.start();
    await until(() => a.isLeader);
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const lost = Date.now();
    await a.stop({ release: false });
    await until(() => b.isLeader, 5000);
    expect(Date.now() - lost).toBeLessThan(3000); // lease duration 1 s + retry: well within the scaled 15 s
    await b.stop();
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'kpa-leader', namespace: 'kpa-system' });
    expect(lease.spec?.holderIdentity).toBe(''); // released on a clean stop
  });
});

describe('kpa run with KUBECONFIG (the built binary)', () => {
  it('autoscales opted-in Deployments, is ready as the leader, and stops on SIGTERM', async () => {
    const server = await FakeApiServer.start();
    server.put('configmaps', { metadata: { name: 'config-autoscaler', namespace: 'kpa-system' }, data: {} });
    server.put('deployments', { ...deployment('cli'), metadata: { ...deployment('cli').metadata, namespace: 'apps' } });
    server.put('deployments', { metadata: { name: 'ignored', namespace: 'apps' }, spec: { replicas: 1, selector: { matchLabels: { app: 'x' } } } });
    const dir = mkdtempSync(join(tmpdir(), 'kpa-kube-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: t',
      `clusters: [{name: t, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: u, user: {token: x}}]',
      'contexts: [{name: t, context: {cluster: t, user: u}}]',
    ].join('\n'));
    const kpa = await spawnKpa(['run', '--dry-run', '--namespaces', 'apps', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0'],
      { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: 'kpa-0', POD_NAMESPACE: 'kpa-system' });
    const base = `http://127.0.0.1:${kpa.port}`;
    await until(() => kpa.stderr().includes('became the leader'));
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    let names: string[] = [];
    for (let i = 0; i < 100 && names.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      names = ((await (await fetch(`${base}/api/revisions`)).json()) as { revisions: { name: string }[] }).revisions.map((r) => r.name);
    }
    expect(names).toEqual(['cli']);
    const { code, ms } = await kpa.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    // Renewing every 2 s (not in a tight loop): a handful of lease calls in the run.
    expect(server.calls.filter((c) => c.resource === 'leases').length).toBeLessThan(20);
    allCalls.push(...server.calls);
    await server.close();
  });
});

describe('RBAC in deploy/ against the calls the code made', () => {
  it('allows every call and grants nothing unused', () => {
    const rules: { scope: 'cluster' | 'namespace'; group: string; resource: string; verb: string }[] = [];
    for (const doc of parseAllDocuments(readFileSync('deploy/rbac.yaml', 'utf8'))) {
      const obj = doc.toJSON() as { kind: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
      if (obj.kind !== 'ClusterRole' && obj.kind !== 'Role') continue;
      for (const r of obj.rules ?? []) for (const group of r.apiGroups) for (const resource of r.resources) for (const verb of r.verbs) {
        rules.push({ scope: obj.kind === 'Role' ? 'namespace' : 'cluster', group, resource, verb });
      }
    }
    const used = new Set(allCalls.map((c) => `${c.group}|${c.resource}|${c.verb}`));
    expect(used.size).toBeGreaterThan(5);
    for (const c of allCalls) {
      const allowed = rules.some((r) => r.group === c.group && r.resource === c.resource && r.verb === c.verb &&
        (r.scope === 'cluster' || c.namespace === 'kpa-system'));
      expect(allowed, `${c.verb} ${c.group}/${c.resource} in ${c.namespace ?? 'all namespaces'}`).toBe(true);
    }
    for (const r of rules) expect(used.has(`${r.group}|${r.resource}|${r.verb}`), `unused grant ${r.verb} ${r.group}/${r.resource}`).toBe(true);
  });
});
