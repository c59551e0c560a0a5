import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { systemClock } from '../clock.js';
import { DEFAULT_CLASS } from '../k8s/deploymentTarget.js';
import { KubernetesMetrics } from '../k8s/k8sMetrics.js';
import { KubernetesMode } from '../k8s/kubernetesMode.js';
import { LeaderElector } from '../k8s/leaderElection.js';
import { type LiveAutoscaler, type ServiceRunOptions, startLiveAutoscaler } from '../service/liveAutoscaler.js';
import { ApiReachability } from './apiReachability.js';

export interface KubernetesRunOptions extends ServiceRunOptions {
  kubeConfig: KubeConfig;
  namespaces: string[];
  classValue?: string;
  dryRun: boolean;
  /** Defaults from the downward API (POD_NAME, POD_NAMESPACE). */
  identity?: string;
  ownNamespace?: string;
  leaderElection?: boolean;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

/** A running in-cluster autoscaler: the service, the Kubernetes adapter and the elector. */
export interface KubernetesRun {
  live: LiveAutoscaler;
  mode: KubernetesMode;
  elector: LeaderElector | null;
  close(): Promise<void>;
}

/**
 * `kpa run` with in-cluster config or KUBECONFIG: the service plus the
 * Kubernetes adapter, with Lease leader election — followers collect and
 * decide but do not patch, and report not ready so activators reach the leader.
 */
export async function startKubernetesRun(o: KubernetesRunOptions): Promise<KubernetesRun> {
  const ownNamespace = o.ownNamespace ?? process.env.POD_NAMESPACE ?? 'kpa-system';
  const identity = o.identity ?? process.env.POD_NAME ?? `kpa-${process.pid}`;
  const clock = systemClock;
  // Every API call reports whether the API server answered: /readyz says which of "unreachable", "not synced", "follower" holds.
  const api = new ApiReachability();
  const kubeConfig = api.watch(o.kubeConfig);
  // A shadow (--dry-run) takes no Lease: one that won kpa-leader would keep the acting kpa from
  // ever patching. It patches nothing, so it needs no leader: it decides every revision it sees.
  const elector = o.leaderElection === false || o.dryRun ? null : new LeaderElector({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: ownNamespace, leaseName: 'kpa-leader', identity, clock, logger: o.logger.child({ component: 'leader-election' }),
    leaseDurationSeconds: o.leaseDurationSeconds, renewDeadlineSeconds: o.renewDeadlineSeconds, retryPeriodSeconds: o.retryPeriodSeconds,
    onApiError: (err) => k8sMetrics.apiError(err), // the elector starts below, once k8sMetrics exists
  });
  const live = await startLiveAutoscaler({
    logger: o.logger, clock, host: o.host, httpPort: o.httpPort, statsPort: o.statsPort, recorder: o.recorder, statLimits: o.statLimits,
    metricNames: o.metricNames, statsToken: o.statsToken,
    readiness: () => {
      const state = api.readiness();
      if (!state.ready || !elector || elector.isLeader) return state;
      return { ready: false, reason: 'waiting for the kpa-leader lease (another replica holds it, or it is not acquired yet): this replica collects and decides, and does not scale' };
    },
  });
  const k8sMetrics = new KubernetesMetrics(live.metrics.registry);
  if (elector) k8sMetrics.watchLease('kpa-leader', () => elector.isLeader);
  const mode = new KubernetesMode({
    kubeConfig, service: live.service, clock, logger: o.logger.child({ component: 'kubernetes' }),
    namespaces: o.namespaces, classValue: o.classValue ?? DEFAULT_CLASS, ownNamespace, dryRun: o.dryRun,
    isLeader: () => !elector || elector.isLeader, metrics: k8sMetrics, identity,
  });
  elector?.start();
  await mode.start();
  o.logger.info({ namespaces: o.namespaces.length ? o.namespaces : 'all', dryRun: o.dryRun, identity }, 'kubernetes mode started');
  return {
    live, mode, elector,
    async close() {
      await mode.stop();
      await elector?.stop();
      await live.close();
    },
  };
}
