import { Counter, Gauge, type Registry } from 'prom-client';
import { statusOf } from './retry.js';

/** The kinds of other controllers kpa stands down for. */
export type ConflictKind = 'HorizontalPodAutoscaler' | 'ScaledObject';
export const CONFLICT_KINDS: readonly ConflictKind[] = ['HorizontalPodAutoscaler', 'ScaledObject'];

/** The `code` label of an API error: the HTTP status, or "network" when there was no answer (refused, reset, timed out). */
export function apiErrorCode(err: unknown): string {
  const status = statusOf(err);
  return status === undefined ? 'network' : String(status);
}

/**
 * kpa's Kubernetes-side series, on the service's registry (so `/metrics`
 * serves them with the rest):
 * - `kpa_scale_patches_total{result="applied"|"failed"}`: every
 *   `deployments/{name}/scale` patch request (a retried patch counts each
 *   failed attempt);
 * - `kpa_kubernetes_api_errors_total{code}`: every API request that failed,
 *   scale patches, Events, Lease, lists and watches alike; code = HTTP status
 *   or "network";
 * - `kpa_lease_held{lease}`: 1 while this replica holds the lease, else 0;
 * - `kpa_events_total{reason, result="sent"|"dropped"|"failed"}`: Events
 *   written (created or their count bumped), dropped by the rate limit or a
 *   full queue, and given up on;
 * - `kpa_conflicts{kind}`: Deployments kpa stands down for because a
 *   HorizontalPodAutoscaler or a KEDA ScaledObject also scales them.
 */
export class KubernetesMetrics {
  readonly scalePatches: Counter<'result'>;
  readonly apiErrors: Counter<'code'>;
  readonly events: Counter<'reason' | 'result'>;
  readonly leaseHeld: Gauge<'lease'>;
  readonly conflicts: Gauge<'kind'>;
  private readonly leases = new Map<string, () => boolean>();
  private conflictCounts: () => Readonly<Record<ConflictKind, number>> = () => ({ HorizontalPodAutoscaler: 0, ScaledObject: 0 });

  constructor(registry: Registry) {
    const registers = [registry];
    this.scalePatches = new Counter({
      name: 'kpa_scale_patches_total', help: 'Scale subresource patch requests, by result (applied or failed; each failed attempt counts).',
      labelNames: ['result'], registers,
    });
    this.apiErrors = new Counter({
      name: 'kpa_kubernetes_api_errors_total', help: 'Kubernetes API requests that failed, by HTTP status code or "network" when there was no answer.',
      labelNames: ['code'], registers,
    });
    this.events = new Counter({
      name: 'kpa_events_total', help: 'Kubernetes Events by reason and result: sent (created or count bumped), dropped (rate limit, full queue), failed.',
      labelNames: ['reason', 'result'], registers,
    });
    const leases = this.leases;
    this.leaseHeld = new Gauge({
      name: 'kpa_lease_held', help: 'Whether this replica holds the lease (1) or not (0).', labelNames: ['lease'], registers,
      collect() {
        for (const [lease, held] of leases) this.set({ lease }, held() ? 1 : 0);
      },
    });
    const self = this;
    this.conflicts = new Gauge({
      name: 'kpa_conflicts', help: 'Deployments kpa stands down for because another controller (by kind) also scales them.', labelNames: ['kind'], registers,
      collect() {
        const counts = self.conflictCounts();
        for (const kind of CONFLICT_KINDS) this.set({ kind }, counts[kind]);
      },
    });
    for (const result of ['applied', 'failed']) this.scalePatches.inc({ result }, 0);
  }

  /** Counts a failed API request by its status. */
  apiError(err: unknown): void {
    this.apiErrors.inc({ code: apiErrorCode(err) });
  }

  /** `kpa_lease_held{lease}` reads `held` when scraped. */
  watchLease(lease: string, held: () => boolean): void {
    this.leases.set(lease, held);
  }

  /** `kpa_conflicts{kind}` reads `counts` when scraped. */
  watchConflicts(counts: () => Readonly<Record<ConflictKind, number>>): void {
    this.conflictCounts = counts;
  }
}
