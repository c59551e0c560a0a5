import { KubeConfig } from '@kubernetes/client-node';
import { ManualClock } from '../../src/clock.js';
import { KubernetesMode, type KubernetesModeOptions } from '../../src/k8s/kubernetesMode.js';
import { silentLogger } from '../../src/log.js';
import type { RevisionKey } from '../../src/metrics/revisionKey.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { stat } from '../helpers/engine.js';
import type { QueueProxyServer } from '../helpers/queueProxyServer.js';
import type { FakeApiServer, StoredObject } from './apiServer.js';

export const OWN_NAMESPACE = 'kpa-system';
export const APP_NAMESPACE = 'apps';

/** A kubeconfig pointing the real client-node at the API test server (plain HTTP, a bearer token). */
export function kubeConfigFor(api: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'test', token: 'test-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

/**
 * An opted-in Deployment whose pods' metrics are served by the test
 * queue-proxy: pods carry podIP 127.0.0.1 and `kpa.dev/metrics-port` points at
 * the queue-proxy's port, so `http://127.0.0.1:PORT/metrics` reaches its
 * `metrics` pod.
 */
export function deployment(name: string, metricsPort: number, annotations: Record<string, string> = {}, replicas = 1, namespace = APP_NAMESPACE): StoredObject {
  return {
    metadata: {
      name, namespace,
      annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/container-concurrency': '10', 'kpa.dev/metrics-port': String(metricsPort), ...annotations },
    },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: {} },
  };
}

export function pod(app: string, i: number, ready = true, namespace = APP_NAMESPACE): StoredObject {
  return {
    metadata: { name: `${app}-${i}`, namespace, labels: { app } },
    status: {
      phase: 'Running', podIP: '127.0.0.1', startTime: '2026-01-01T00:00:00Z',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

export function configAutoscaler(data: Record<string, string>): StoredObject {
  return { metadata: { name: 'config-autoscaler', namespace: OWN_NAMESPACE }, data };
}

export function replicasOf(api: FakeApiServer, name: string, namespace = APP_NAMESPACE): number {
  return (api.get('deployments', namespace, name)?.spec as { replicas: number }).replicas;
}

/** Makes the cluster's ready pods follow the Deployment's replicas, as the Deployment controller would. */
export function syncPods(api: FakeApiServer, app: string, namespace = APP_NAMESPACE): void {
  const replicas = replicasOf(api, app, namespace);
  for (let i = 0; i < 100; i++) {
    if (i < replicas) {
      if (!api.get('pods', namespace, `${app}-${i}`)) api.put('pods', pod(app, i, true, namespace));
    } else api.remove('pods', namespace, `${app}-${i}`);
  }
}

/** Adds an opted-in Deployment with its ready pods, as a user's `kubectl apply` and the ReplicaSet would. */
export function addDeployment(api: FakeApiServer, qpPort: number, name: string, annotations: Record<string, string> = {}, replicas = 1): void {
  api.put('deployments', deployment(name, qpPort, annotations, replicas));
  syncPods(api, name);
}

/** The service and the Kubernetes mode on a ManualClock, with the timers off: the test drives scrapes and ticks. */
export interface ModeHarness {
  live: LiveAutoscaler;
  mode: KubernetesMode;
  clock: ManualClock;
  /** Total requests in flight for `app`, shared evenly by its pods. */
  load(total: number): void;
  /** Virtual seconds: scrape every second, tick every 2 s, pods follow the Deployment. */
  run(seconds: number, app: string, onSecond?: (second: number) => void): Promise<void>;
  stop(): Promise<void>;
}

export async function startMode(api: FakeApiServer, qp: QueueProxyServer, options: Partial<KubernetesModeOptions> = {}): Promise<ModeHarness> {
  const clock = new ManualClock(1_700_000_000);
  const live = await startLiveAutoscaler({
    logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
  });
  const mode = new KubernetesMode({
    kubeConfig: kubeConfigFor(api), service: live.service, clock, logger: silentLogger(), namespaces: [], classValue: 'kpa.dev',
    ownNamespace: OWN_NAMESPACE, dryRun: false, requestTimeoutMs: 300, ...options,
  });
  await mode.start();
  let totalLoad = 0;
  return {
    live, mode, clock,
    load(total) {
      totalLoad = total;
    },
    async run(seconds, app, onSecond) {
      for (let s = 0; s < seconds; s++) {
        onSecond?.(s);
        qp.set('metrics', stat(totalLoad / Math.max(1, replicasOf(api, app))));
        clock.advance(1);
        await live.scrapeLoop.runOnce();
        if (clock.now() % 2 === 0) live.tick();
        await new Promise((r) => setTimeout(r, 15)); // let patches and watch events land
        syncPods(api, app);
      }
    },
    async stop() {
      await mode.stop();
      await live.close();
    },
  };
}

export const key = (name: string, namespace = APP_NAMESPACE): RevisionKey => ({ namespace, name });
