import { afterEach, describe, expect, it } from 'vitest';
import { type KubernetesRun, startKubernetesRun } from '../../src/cli/runKubernetes.js';
import { silentLogger } from '../../src/log.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer } from './apiServer.js';
import { APP_NAMESPACE, configAutoscaler, deployment, kubeConfigFor, OWN_NAMESPACE, syncPods } from './cluster.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function metricsText(run: KubernetesRun): Promise<string> {
  return (await fetch(`http://127.0.0.1:${run.live.httpPort}/metrics`)).text();
}

/** `name{labels} value` lines of the exposition, by series. */
function seriesOf(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out[m[2] ?? ''] = Number(m[3]);
  }
  return out;
}

describe('kpa\'s Kubernetes-side series on /metrics of an in-cluster run', () => {
  it('serves scale patches, API errors, the lease, Events and conflicts under their dashboard names', async () => {
    const api = await FakeApiServer.start();
    const qp = await QueueProxyServer.start();
    cleanup.push(() => api.close(), () => qp.close());
    api.uninstallCrd('scaledobjects'); // a 404, counted as an API error
    api.put('configmaps', configAutoscaler({ 'stable-window': '6s' }));
    api.put('deployments', deployment('web', qp.port));
    syncPods(api, 'web');
    qp.set('metrics', stat(35));
    const run = await startKubernetesRun({
      kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [], dryRun: false,
      podName: 'kpa-0', ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
    });
    cleanup.push(() => run.close());
    await until(() => api.calls.some((c) => c.verb === 'create' && c.resource === 'events'), 10_000);
    api.put('horizontalpodautoscalers', { metadata: { name: 'web', namespace: APP_NAMESPACE }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } } });
    await until(() => run.mode.standingDownFor({ namespace: APP_NAMESPACE, name: 'web' }).length === 1);
    await until(() => api.objectsOf('events', APP_NAMESPACE).some((e) => (e as { reason?: string }).reason === 'KPAConflict'));
    await run.mode.events.flush();
    const text = await metricsText(run);
    const patches = seriesOf(text, 'kpa_scale_patches_total');
    expect(patches['{result="applied"}']).toBeGreaterThanOrEqual(1);
    expect(patches['{result="failed"}']).toBe(0);
    expect(seriesOf(text, 'kpa_kubernetes_api_errors_total')['{code="404"}']).toBeGreaterThanOrEqual(1);
    expect(seriesOf(text, 'kpa_lease_held')).toEqual({ '{lease="kpa-leader"}': 1 });
    const events = seriesOf(text, 'kpa_events_total');
    expect(events['{reason="KPAScaled",result="sent"}']).toBe(patches['{result="applied"}']);
    expect(events['{reason="KPAConflict",result="sent"}']).toBe(1);
    expect(seriesOf(text, 'kpa_conflicts')).toEqual({ '{kind="HorizontalPodAutoscaler"}': 1, '{kind="ScaledObject"}': 0 });
    await run.election!.stop();
    expect(seriesOf(await metricsText(run), 'kpa_lease_held')).toEqual({ '{lease="kpa-leader"}': 0 });
  });
});

describe('revision series of an in-cluster run', () => {
  it("carry the Deployment's Knative configuration and service labels, and follow a change of them", async () => {
    const api = await FakeApiServer.start();
    const qp = await QueueProxyServer.start();
    cleanup.push(() => api.close(), () => qp.close());
    api.put('configmaps', configAutoscaler({ 'stable-window': '6s' }));
    const web = deployment('web-00002', qp.port);
    web.metadata.labels = { 'serving.knative.dev/configuration': 'web', 'serving.knative.dev/service': 'shop' };
    api.put('deployments', web);
    api.put('deployments', deployment('plain', qp.port));
    syncPods(api, 'web-00002');
    syncPods(api, 'plain');
    qp.set('metrics', stat(7));
    const run = await startKubernetesRun({
      kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [], dryRun: true,
      ownNamespace: OWN_NAMESPACE, leaderElection: false,
    });
    cleanup.push(() => run.close());
    const labelsOf = async (revision: string): Promise<string[]> => Object.keys(seriesOf(await metricsText(run), 'kn_revision_pods_count'))
      .filter((l) => l.includes(`kn_revision_name="${revision}"`));
    await until(async () => (await labelsOf('web-00002')).length === 1 && (await labelsOf('plain')).length === 1, 10_000);
    expect(await labelsOf('web-00002')).toEqual([`{k8s_namespace_name="${APP_NAMESPACE}",kn_configuration_name="web",kn_revision_name="web-00002",kn_service_name="shop"}`]);
    expect(await labelsOf('plain')).toEqual([`{k8s_namespace_name="${APP_NAMESPACE}",kn_configuration_name="plain",kn_revision_name="plain",kn_service_name=""}`]);
    api.put('deployments', { ...web, metadata: { ...web.metadata, labels: { 'serving.knative.dev/configuration': 'web2' } } });
    await until(async () => (await labelsOf('web-00002'))[0]?.includes('kn_configuration_name="web2"') ?? false, 10_000);
  });
});
