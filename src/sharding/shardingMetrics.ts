import { Counter, Gauge, type Registry } from 'prom-client';
import { totalCounter } from '../service/totalCounter.js';
import type { BucketElection } from '../k8s/bucketElection.js';
import type { KubernetesMode } from '../k8s/kubernetesMode.js';
import { FORWARD_DROP_REASONS, type StatForwarder } from './statForwarder.js';

/**
 * The replica's share of the work, read when /metrics is scraped: buckets
 * held, revisions owned and known, and the stat forwarder's counts.
 */
export class ShardingMetrics {
  constructor(registry: Registry, src: { election: BucketElection; forwarder: StatForwarder; mode: () => KubernetesMode | null }) {
    const registers = [registry];
    new Gauge({
      name: 'kpa_buckets_held', help: 'Buckets whose Lease this replica holds (it scrapes, decides and patches their revisions).', registers,
      collect() {
        this.set(src.election.heldBuckets().size);
      },
    });
    new Gauge({
      name: 'kpa_bucket_members', help: 'Live kpa replicas this replica sees (membership Leases), itself included.', registers,
      collect() {
        this.set(src.election.liveMembers().length);
      },
    });
    new Gauge({
      name: 'kpa_revisions', help: 'Opted-in revisions this replica knows, by whether it owns them.', labelNames: ['owned'] as const, registers,
      collect() {
        const counts = src.mode()?.targetCounts() ?? { known: 0, owned: 0 };
        this.set({ owned: 'true' }, counts.owned);
        this.set({ owned: 'false' }, counts.known - counts.owned);
      },
    });
    totalCounter(registry, 'kpa_stats_forwarded_total', 'Activator stats sent on to the replica that owns their revision.', () => src.forwarder.counters.forwarded);
    new Counter({
      name: 'kpa_stats_forward_dropped_total', labelNames: ['reason'] as const, registers,
      help: 'Activator stats that never reached their owner: no-owner (their bucket had none within the wait bound), buffer-full, not-owner (forwarded here by mistake).',
      collect() {
        this.reset();
        for (const reason of FORWARD_DROP_REASONS) this.inc({ reason }, src.forwarder.counters.dropped[reason]);
      },
    });
    new Gauge({
      name: 'kpa_stats_forward_waiting', help: 'Activator stats waiting for their bucket to get an owner.', registers,
      collect() {
        this.set(src.forwarder.waitingCount);
      },
    });
  }
}
