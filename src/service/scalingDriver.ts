import type { Clock } from '../clock.js';
import type { ResolvedRevision } from '../config/revisionConfig.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import { RevisionScaler, scalerSpecFor } from '../scaler/index.js';
import type { AutoscalerService } from './autoscalerService.js';

/** Where replicas go: the Kubernetes scale subresource, or the embedded demo's Deployments of real app servers. */
export interface Actuator {
  /** The target's replicas as last observed. */
  currentReplicas(key: RevisionKey): number;
  apply(key: RevisionKey, replicas: number): void;
  /** The scaler wants the replicas the target has: a queued or retrying apply is stale, drop it. */
  withdraw?(key: RevisionKey): void;
  /** Whether something can bring the target back from zero (an activator in the path, or an explicit opt-in). */
  activatorInPath(key: RevisionKey): boolean;
}

/** How long kpa activator (which reports every second) may be silent about a target before kpa stops trusting it to bring the target back. */
export const ACTIVATOR_SILENCE_SECONDS = 3;

/**
 * Whether something can bring a target back from zero, so that its last pod
 * may go (the scaler's activatorInPath).
 * - `kpa activator` in front (metrics source activator) is always in the
 *   path, as long as it reports, which it does every second for every
 *   target; after 3 s of silence (three reports missed) kpa holds the last
 *   pod, and the grace period starts over once it reports again. It counts as
 *   entering the path when the target goes inactive, so the grace period
 *   runs from there: Knative's rule of inactive for max(grace, retention).
 *   (Knative's shortcut for an activator long in the path exists to wait for
 *   the network to switch over to it, which never happens here.)
 * - Knative's activator, or any proxy that reports stats: once it has
 *   reported for the target, from when it did.
 * - An explicit opt-in (`optIn`, something else scales the target up): as
 *   for kpa activator, from when the target goes inactive.
 */
export function canComeBackFromZero(service: AutoscalerService, key: RevisionKey, optIn: boolean): boolean {
  const inactive = service.scaleStatus(key)?.state === 'inactive';
  if (service.metricsSource(key) === 'activator') return inactive && service.activatorReporting(key, ACTIVATOR_SILENCE_SECONDS);
  if (service.activatorSeen(key)) return true;
  return optIn && inactive;
}

export interface ScalingDriverOptions {
  service: AutoscalerService;
  actuator: Actuator;
  clock: Clock;
  logger: Logger;
  /** Shadow mode: report what would be applied, apply nothing. */
  dryRun?: boolean;
  /** Whether this replica may actuate the revision (it holds its bucket). */
  mayActuate?: (key: RevisionKey) => boolean;
  /** Said after every reason where applying is not what it seems (targets mode: the ready count is only assumed). */
  note?: string;
}

/**
 * After each decision, runs the revision's scaler (bounds, scale to zero)
 * and hands changed replica counts to the actuator; the outcome is shown in
 * the service's API. Shared by Kubernetes mode and the embedded demo.
 */
export class ScalingDriver {
  private readonly scalers = new Map<string, RevisionScaler>();
  private readonly unsubscribe: () => void;

  constructor(private readonly o: ScalingDriverOptions) {
    this.unsubscribe = o.service.onDecision((key) => this.scale(key));
  }

  /** Creates or updates a revision's scaler from its resolved spec. */
  track(key: RevisionKey, resolved: ResolvedRevision): void {
    const spec = scalerSpecFor(resolved);
    const existing = this.scalers.get(keyString(key));
    if (existing) existing.update(spec);
    else this.scalers.set(keyString(key), new RevisionScaler(spec, this.o.clock.now()));
  }

  forget(key: RevisionKey): void {
    this.scalers.delete(keyString(key));
  }

  stop(): void {
    this.unsubscribe();
  }

  private scale(key: RevisionKey): void {
    const scaler = this.scalers.get(keyString(key));
    const autoscaler = this.o.service.scalers.get(key);
    if (!scaler || !autoscaler) return;
    const { actuator, dryRun = false } = this.o;
    const currentReplicas = actuator.currentReplicas(key);
    const out = scaler.step({
      now: this.o.clock.now(), desiredScale: autoscaler.desiredScale, readyPods: autoscaler.readyPods,
      currentReplicas, activatorInPath: actuator.activatorInPath(key),
    });
    const reason = this.o.note === undefined ? out.reason : `${out.reason}; ${this.o.note}`;
    this.o.service.setScaleStatus(key, { currentReplicas, wantReplicas: out.want, state: out.state, reason, dryRun });
    if (out.replicas === null) {
      // e.g. 5 → 3 failed and is waiting to retry, then the decision went back to 5: the retry must not land.
      if (out.want === currentReplicas) actuator.withdraw?.(key);
      return;
    }
    if (dryRun) {
      this.o.logger.info({ namespace: key.namespace, revision: key.name, replicas: out.replicas, currentReplicas }, `dry run: would scale to ${out.replicas} (${out.reason})`);
      return;
    }
    if (this.o.mayActuate?.(key) === false) return;
    actuator.apply(key, out.replicas);
  }
}
