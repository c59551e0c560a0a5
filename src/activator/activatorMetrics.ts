import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatSenderCounters } from '../metrics/statClient.js';
import { registerBuildInfo } from '../service/buildInfo.js';
import { totalCounter } from '../service/totalCounter.js';
import type { ActivatorProxy } from './proxy.js';
import type { RequestRouter } from './router.js';
import type { Target } from './target.js';

const LABELS = ['namespace', 'name'] as const;

/**
 * The activator's Prometheus registry. Per-target series are read from the
 * targets when scraped (a request costs a few integer increments, not a
 * labelled-metric lookup); no series is labelled by anything a client
 * chooses, such as the Host header of an unknown host. With them,
 * kpa_build_info and prom-client's process and Node.js runtime series.
 */
export class ActivatorMetrics {
  readonly registry = new Registry();
  readonly holdSeconds: Histogram<'namespace' | 'name'>;
  private readonly holdChildren = new WeakMap<Target, { observe(v: number): void }>();

  constructor(router: RequestRouter, proxy: () => ActivatorProxy | null, sender: () => StatSenderCounters | null, connected: () => boolean) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    registerBuildInfo(this.registry);
    this.holdSeconds = new Histogram({
      name: 'kpa_activator_hold_seconds', help: 'How long requests waited for an endpoint with a free slot (held requests only).',
      labelNames: LABELS, buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers,
    });
    const perTarget = <T extends string>(kind: 'counter' | 'gauge', name: string, help: string, extra: readonly T[],
      each: (t: Target, set: (labels: Record<T, string | number>, v: number) => void) => void): void => {
      const Metric = kind === 'counter' ? Counter : Gauge;
      new Metric({
        name, help, labelNames: [...LABELS, ...extra], registers,
        collect(this: Counter | Gauge) {
          this.reset();
          for (const t of router.all()) {
            each(t, (labels, v) => {
              const all = { namespace: t.key.namespace, name: t.key.name, ...labels };
              if (this instanceof Counter) this.inc(all, v);
              else this.set(all, v);
            });
          }
        },
      });
    };
    perTarget('counter', 'kpa_activator_requests_total', 'Requests answered, by status code (the activator\'s own 404/502/503/504 included).', ['code'] as const,
      (t, set) => { for (const [code, n] of t.responses) if (n > 0) set({ code }, n); });
    perTarget('gauge', 'kpa_activator_requests_in_flight', 'Requests in flight through the activator, held ones included.', [] as const,
      (t, set) => set({}, t.stats.concurrency));
    perTarget('gauge', 'kpa_activator_requests_held', 'Requests waiting for an endpoint with a free slot.', [] as const,
      (t, set) => set({}, t.held));
    perTarget('gauge', 'kpa_activator_endpoints_ready', 'Endpoints of the target that take requests.', [] as const,
      (t, set) => set({}, t.readyEndpoints.length));
    perTarget('gauge', 'kpa_activator_endpoints_assigned',
      'Ready endpoints this activator sends requests to: its share of them with a containerConcurrency limit and known peers (Knative\'s assignSlice), else all.',
      [] as const, (t, set) => set({}, t.assignedEndpoints.length));
    perTarget('counter', 'kpa_activator_upstream_errors_total', 'Upstream attempts that failed, by reason (retried ones included).', ['reason'] as const,
      (t, set) => { for (const [reason, n] of t.upstreamErrors) set({ reason }, n); });
    new Gauge({
      name: 'kpa_activator_peers', help: 'Activator replicas this one knows of (its Service\'s ready endpoints, or --peers); 0 = unknown.', registers,
      collect() { this.set(router.peers.count); },
    });
    new Gauge({
      name: 'kpa_activator_peer_index', help: 'This activator\'s index among its peers (their IPs sorted); -1 = unknown, every endpoint is used.', registers,
      collect() { this.set(router.peers.selfIndex); },
    });
    totalCounter(this.registry, 'kpa_activator_unrouted_requests_total', 'Requests for a host (and path) that no route names (answered 404).', () => proxy()?.unrouted ?? 0);
    totalCounter(this.registry, 'kpa_activator_stats_sent_total', 'Stats sent to kpa\'s stat server.', () => sender()?.statsSent ?? 0);
    totalCounter(this.registry, 'kpa_activator_stats_dropped_total', 'Stats dropped: not connected to kpa, or the connection backed up.', () => sender()?.statsDropped ?? 0);
    new Gauge({
      name: 'kpa_activator_stats_connected', help: '1 while connected to kpa\'s stat server.', registers,
      collect() { this.set(connected() ? 1 : 0); },
    });
  }

  /** A target that is no longer routed leaves no series behind. */
  forget(target: Target): void {
    this.holdSeconds.remove(target.key.namespace, target.key.name);
    this.holdChildren.delete(target);
  }

  holdChild(target: Target): { observe(v: number): void } {
    let child = this.holdChildren.get(target);
    if (!child) {
      child = this.holdSeconds.labels(target.key.namespace, target.key.name);
      this.holdChildren.set(target, child);
    }
    return child;
  }
}
