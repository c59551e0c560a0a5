import { networkInterfaces } from 'node:os';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { systemClock } from '../clock.js';
import { BucketElection } from '../k8s/bucketElection.js';
import { DEFAULT_CLASS } from '../k8s/deploymentTarget.js';
import { KubernetesMetrics } from '../k8s/k8sMetrics.js';
import { KubernetesMode } from '../k8s/kubernetesMode.js';
import { StatSender } from '../metrics/statClient.js';
import { FORWARDED_BY_HEADER } from '../metrics/statServer.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import { type LiveAutoscaler, type ServiceRunOptions, startLiveAutoscaler } from '../service/liveAutoscaler.js';
import { BucketSet, bucketNames, bucketNumber } from '../sharding/bucketSet.js';
import { ShardingMetrics } from '../sharding/shardingMetrics.js';
import { holderIdentity } from '../sharding/holderIdentity.js';
import { StatForwarder } from '../sharding/statForwarder.js';
import { ApiReachability } from './apiReachability.js';

export interface KubernetesRunOptions extends ServiceRunOptions {
  kubeConfig: KubeConfig;
  namespaces: string[];
  classValue?: string;
  dryRun: boolean;
  /** Defaults from the downward API (POD_NAME, POD_IP, POD_NAMESPACE). */
  podName?: string;
  podIP?: string;
  ownNamespace?: string;
  /** How many buckets the revisions are split into, each owned by one replica (--buckets; default 1). */
  buckets?: number;
  /** false: no Leases at all, this process owns everything (tests). */
  leaderElection?: boolean;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

/** A running in-cluster autoscaler: the service, the Kubernetes adapter, the bucket election and the stat forwarder. */
export interface KubernetesRun {
  live: LiveAutoscaler;
  mode: KubernetesMode;
  election: BucketElection | null;
  forwarder: StatForwarder | null;
  /** `POD_NAME_POD_IP`, as the bucket Leases name their holders. */
  identity: string;
  close(): Promise<void>;
}

/** One bucket keeps kpa 0.2's Lease name: during an upgrade, old and new replicas campaign for the same Lease, so only one acts. */
const SINGLE_BUCKET_LEASE = 'kpa-leader';

/** This pod's IP: POD_IP from the downward API, else a specific --host, else the first non-internal IPv4 address. */
function podIPOf(o: KubernetesRunOptions): string {
  if (o.podIP) return o.podIP;
  if (process.env.POD_IP) return process.env.POD_IP;
  if (o.host && o.host !== '0.0.0.0' && o.host !== '::') return o.host;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * `kpa run` with a Kubernetes config: the service plus the Kubernetes
 * adapter. The revisions are split into buckets (Knative's bucketed
 * autoscaler): each replica campaigns for the buckets' Leases, and scrapes,
 * decides and patches only the revisions of the buckets it holds. Every
 * replica accepts activator stats and forwards those of revisions it does not
 * own to their owner, so every replica is Ready once it can serve.
 * A --dry-run shadow takes no Lease and decides every revision it sees.
 */
export async function startKubernetesRun(o: KubernetesRunOptions): Promise<KubernetesRun> {
  const ownNamespace = o.ownNamespace ?? process.env.POD_NAMESPACE ?? 'kpa-system';
  const podName = o.podName ?? process.env.POD_NAME ?? `kpa-${process.pid}`;
  const identity = holderIdentity(podName, podIPOf(o));
  const clock = systemClock;
  // Every API call reports whether the API server answered: /readyz says which of "unreachable", "not synced" holds.
  const api = new ApiReachability();
  const kubeConfig = api.watch(o.kubeConfig);
  const names = bucketNames(o.buckets ?? 1);
  const bucketSet = new BucketSet(names);
  const bucketOf = (key: RevisionKey) => bucketSet.bucketOf(key.namespace, key.name);
  // A shadow (--dry-run) takes no Lease: one that won a bucket would keep the acting kpa from patching
  // those revisions. It patches nothing, so it owns nothing: it decides every revision it sees.
  const sharded = o.leaderElection !== false && !o.dryRun;
  let mode: KubernetesMode | null = null;
  let forwarder: StatForwarder | null = null;
  const election = sharded ? new BucketElection({
    api: kubeConfig.makeApiClient(CoordinationV1Api), namespace: ownNamespace, identity, buckets: names,
    leaseNameOf: names.length === 1 ? () => SINGLE_BUCKET_LEASE : undefined,
    clock, logger: o.logger.child({ component: 'bucket-election' }),
    leaseDurationSeconds: o.leaseDurationSeconds, renewDeadlineSeconds: o.renewDeadlineSeconds, retryPeriodSeconds: o.retryPeriodSeconds,
    onApiError: (err) => k8sMetrics.apiError(err), // the election starts below, once k8sMetrics exists
    onChange: (held) => {
      const changed = mode?.ownershipChanged();
      forwarder?.closeUnused(election!.holders());
      if (changed && (changed.taken > 0 || changed.released > 0)) {
        o.logger.info({ buckets: [...held].sort(), taken: changed.taken, released: changed.released },
          `now holding ${held.size} of ${names.length} bucket${names.length === 1 ? '' : 's'}: took ${changed.taken} revisions, let go of ${changed.released}`);
      }
    },
  }) : null;
  const owns = (key: RevisionKey): boolean => !election || election.heldBuckets().has(bucketOf(key));
  const live = await startLiveAutoscaler({
    logger: o.logger, clock, host: o.host, httpPort: o.httpPort, statsPort: o.statsPort, recorder: o.recorder, statLimits: o.statLimits,
    metricNames: o.metricNames, statsToken: o.statsToken,
    // Ready once it can serve: any replica takes activator stats and forwards them, whoever owns the revision.
    readiness: () => api.readiness(),
    routeStats: (stats, forwarded, recordLocally) => (forwarder ? forwarder.route(stats, forwarded) : recordLocally(stats)),
    // The buckets by number ("03" of kpa-bucket-03-of-10); a shadow, holding no Lease, decides every revision it sees.
    replica: () => ({
      identity, bucketCount: names.length,
      buckets: election ? names.flatMap((b, i) => (election.heldBuckets().has(b) ? [bucketNumber(i, names.length)] : [])) : ['all'],
    }),
  });
  const k8sMetrics = new KubernetesMetrics(live.metrics.registry);
  if (election) {
    for (const b of names) k8sMetrics.watchLease(names.length === 1 ? SINGLE_BUCKET_LEASE : b, () => election.heldBuckets().has(b));
    const statsPort = live.statsPort;
    forwarder = new StatForwarder({
      bucketOf, holderOf: (b) => election.holderOf(b), self: identity, clock, logger: o.logger.child({ component: 'stat-forwarder' }),
      recordLocally: (stats) => live.recordActivatorStats(stats),
      // Replicas listen on the same stats port (one Deployment): the owner is its IP from the Lease and this port.
      connect: (ip) => new StatSender({
        url: `ws://${ip.includes(':') ? `[${ip}]` : ip}:${statsPort}/`,
        headers: () => ({ [FORWARDED_BY_HEADER]: identity, ...(o.statsToken?.header() ?? {}) }),
        maxBackoffMs: 1000,
      }),
    });
    new ShardingMetrics(live.metrics.registry, { election, forwarder, mode: () => mode });
  }
  mode = new KubernetesMode({
    kubeConfig, service: live.service, clock, logger: o.logger.child({ component: 'kubernetes' }),
    namespaces: o.namespaces, classValue: o.classValue ?? DEFAULT_CLASS, ownNamespace, dryRun: o.dryRun,
    owns, metrics: k8sMetrics, identity: podName,
  });
  election?.start();
  await mode.start();
  o.logger.info({ namespaces: o.namespaces.length ? o.namespaces : 'all', dryRun: o.dryRun, identity, buckets: names.length }, 'kubernetes mode started');
  return {
    live, mode, election, forwarder, identity,
    async close() {
      // Buckets first, released at once: their new owners take over while this replica winds down.
      await election?.stop();
      await mode!.stop();
      await forwarder?.close();
      await live.close();
    },
  };
}
