import { createServer } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiReachability } from '../../src/cli/apiReachability.js';
import { startKubernetesRun } from '../../src/cli/runKubernetes.js';
import { silentLogger } from '../../src/log.js';
import { FakeApiServer } from '../k8s/apiServer.js';
import { configAutoscaler, kubeConfigFor, OWN_NAMESPACE } from '../k8s/cluster.js';
import { until } from '../helpers/wait.js';

/** A KubeConfig whose one API client answers each method as `answers` says. */
function fakeKubeConfig(answers: Record<string, () => Promise<unknown>>): KubeConfig {
  return { makeApiClient: () => answers } as unknown as KubeConfig;
}
const refused = () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
const forbidden = () => Promise.reject(Object.assign(new Error('Forbidden'), { code: 403 }));
const ok = () => Promise.resolve({ items: [] });
const settle = () => new Promise((r) => setTimeout(r, 0));

/** Polls /readyz until its reason starts with `prefix` (at most `ms`); resolves with that reason. */
async function reasonBecomes(port: number, prefix: string, ms = 5000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { reason?: string };
    if (body.reason?.startsWith(prefix)) return body.reason;
    if (Date.now() > end) throw new Error(`/readyz still says ${JSON.stringify(body.reason)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ApiReachability: what /readyz says of the API server', () => {
  it('not synced before any list, and until every kind listed has had a successful list', async () => {
    let t = 100;
    const r = new ApiReachability(() => t);
    const answers: Record<string, () => Promise<unknown>> = { listPodForAllNamespaces: ok, listDeploymentForAllNamespaces: forbidden };
    const client = r.watch(fakeKubeConfig(answers)).makeApiClient(class {} as never) as unknown as Record<string, () => Promise<unknown>>;
    expect(r.readiness()).toEqual({ ready: false, reason: 'informers have not synced: waiting for the first lists' });
    await client.listPodForAllNamespaces();
    await client.listDeploymentForAllNamespaces().catch(() => undefined);
    await settle();
    expect(r.readiness()).toEqual({
      ready: false, reason: 'informers have not synced: waiting for the first deployments list; the last failed: deployments list: HTTP 403: Forbidden',
    });
    answers.listDeploymentForAllNamespaces = ok;
    await client.listDeploymentForAllNamespaces();
    await settle();
    expect(r.readiness()).toEqual({ ready: true });
    // No answer at all: unreachable, whatever synced before, until any call is answered again.
    answers.readNamespacedLease = refused;
    t = 103;
    await client.readNamespacedLease().catch(() => undefined);
    await settle();
    t = 105;
    expect(r.readiness()).toEqual({ ready: false, reason: 'API server unreachable: the last request (readNamespacedLease, 2 s ago) failed: fetch failed (ECONNREFUSED)' });
    answers.readNamespacedLease = forbidden; // an answer, even a refusal, means the server is there
    await client.readNamespacedLease().catch(() => undefined);
    await settle();
    expect(r.readiness()).toEqual({ ready: true });
  });
});

describe('kpa run in Kubernetes mode: /readyz reasons', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const readyz = async (port: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  const start = (kubeConfig: KubeConfig) => startKubernetesRun({
    // Not --dry-run: a shadow takes no Lease. Without its bucket it patches nothing either.
    kubeConfig, logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [], dryRun: false,
    podName: 'kpa-1', ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
  });

  it('a replica another one holds the lease against is Ready; once the API server goes away it says so', async () => {
    const api = await FakeApiServer.start();
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await api.close();
    });
    api.put('configmaps', configAutoscaler({}));
    api.put('leases', {
      metadata: { name: 'kpa-leader', namespace: OWN_NAMESPACE },
      spec: { holderIdentity: 'kpa-0', leaseDurationSeconds: 3600, renewTime: new Date().toISOString(), leaseTransitions: 0 },
    });
    const run = await start(kubeConfigFor(api));
    cleanups.push(() => run.close());
    await until(async () => (await readyz(run.live.httpPort)).status === 200);
    expect(run.election!.heldBuckets().size).toBe(0);
    await api.close();
    closed = true;
    expect(await reasonBecomes(run.live.httpPort, 'API server unreachable')).toMatch(/^API server unreachable: the last request \(.*, \d+ s ago\) failed: /);
    expect((await readyz(run.live.httpPort)).status).toBe(503);
  });

  it('an API server that was never there: unreachable from the start', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const api = { url: `http://127.0.0.1:${port}` } as FakeApiServer;
    const run = await start(kubeConfigFor(api));
    cleanups.push(() => run.close());
    expect(await reasonBecomes(run.live.httpPort, 'API server unreachable')).toMatch(/ECONNREFUSED/);
  });
});
