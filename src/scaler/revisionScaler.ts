import { pods } from '../format.js';
import type { ScalerSpec } from './spec.js';

/** Knative's PodAutoscaler Active condition: Unknown = activating, True = active, False = inactive. */
export type ActivityState = 'activating' | 'active' | 'inactive';

export interface ScalerInput {
  /** Seconds since the epoch. */
  now: number;
  /** The decider's latest desired count; -1 before its first valid decision. */
  desiredScale: number;
  readyPods: number;
  /** The target's current replicas (its /scale spec). */
  currentReplicas: number;
  /**
   * Whether the activator is in the request path and can buffer requests and
   * bring the target back from zero (Knative's SKS proxy mode, probed ready).
   */
  activatorInPath: boolean;
}

export interface ScalerOutput {
  /** The replicas the target should have now, or null to leave it as it is. */
  replicas: number | null;
  /** What the scaler wants (-1: no opinion yet), applied or not. */
  want: number;
  state: ActivityState;
  /** Why, in one sentence (logs, the API and the dashboard). */
  reason: string;
}

/** Knative's applyBounds: max 0 means no upper bound. */
export function applyBounds(min: number, max: number, x: number): number {
  if (x < min) return min;
  if (max !== 0 && x > max) return max;
  return x;
}

function secs(x: number): string {
  return `${Math.round(x * 10) / 10} s`;
}

/**
 * From the decider's desired count to the target's replicas, as Knative's KPA
 * reconciler does (pkg/reconciler/autoscaling/kpa: scaler.scale,
 * handleScaleToZero, computeActiveCondition): min/max/initial scale, and the
 * scale-to-zero state machine with its grace period, pod retention period,
 * stable window after activation and activation timeout. Pure: the caller
 * passes `now` and what it observed, and applies `replicas` when not null.
 */
export class RevisionScaler {
  private spec: ScalerSpec;
  /** The Active condition and when it last changed; a new PodAutoscaler starts activating. */
  private activity: ActivityState = 'activating';
  private since: number;
  /** Whether the target ever reached its initial scale (Knative's ScaleTargetInitialized). */
  private initialized = false;
  /** When the activator was last confirmed to have entered the request path (SKS proxy mode). */
  private activatorSince: number | null = null;

  constructor(spec: ScalerSpec, now: number) {
    this.spec = spec;
    this.since = now;
  }

  get state(): ActivityState {
    return this.activity;
  }

  get scaleTargetInitialized(): boolean {
    return this.initialized;
  }

  update(spec: ScalerSpec): void {
    this.spec = spec;
  }

  step(input: ScalerInput): ScalerOutput {
    const { now } = input;
    if (input.activatorInPath) this.activatorSince ??= now;
    else this.activatorSince = null;

    const { want, apply, reason } = this.scale(input);
    this.updateActivity(now, want, input.readyPods);
    const replicas = apply && want >= 0 && want !== input.currentReplicas ? want : null;
    return { replicas, want, state: this.activity, reason };
  }

  /** scaler.scale: bounds, initial scale, then the scale-to-zero rules. */
  private scale(input: ScalerInput): { want: number; apply: boolean; reason: string } {
    const s = this.spec;
    let desired = input.desiredScale;
    if (desired < 0 && this.activity !== 'activating') {
      return { want: desired, apply: false, reason: 'no decision yet: replicas left as they are' };
    }
    let min = s.minScale;
    const notes: string[] = [];
    if (s.initialScale > 1 && !this.initialized && s.reachable) {
      // Knative would let initial-scale exceed max-scale here; max-scale is a promise, so it wins.
      min = Math.max(s.initialScale, min);
      if (s.maxScale > 0) min = Math.min(min, s.maxScale);
      notes.push(`initial-scale ${s.initialScale} not reached yet`);
    }
    const bounded = applyBounds(min, s.maxScale, desired);
    if (bounded !== desired) {
      notes.push(bounded === min ? `raised to min-scale ${min}` : `capped at max-scale ${s.maxScale}`);
      desired = bounded;
    }
    const note = notes.length ? ` (${notes.join(', ')})` : '';
    if (desired !== 0) return { want: desired, apply: true, reason: `${pods(desired)}${note}` };
    return this.scaleToZero(input.now, note);
  }

  /** handleScaleToZero: when a wanted 0 may be applied. */
  private scaleToZero(now: number, note: string): { want: number; apply: boolean; reason: string } {
    const s = this.spec;
    if (!s.enableScaleToZero) return { want: 1, apply: true, reason: `1 pod: enable-scale-to-zero is false${note}` };
    const inState = now - this.since;
    switch (this.activity) {
      case 'activating':
        if (inState > s.activationTimeoutSeconds) {
          return { want: 0, apply: true, reason: `0 pods: activation timed out after ${secs(inState)} (limit ${secs(s.activationTimeoutSeconds)})` };
        }
        return { want: -1, apply: false, reason: `activating for ${secs(inState)}: waiting for pods (times out after ${secs(s.activationTimeoutSeconds)})` };
      case 'active':
        if (inState >= s.stableWindowSeconds) {
          // Mark inactive now; the pods go once the activator has taken the path for the grace period.
          return { want: 0, apply: false, reason: 'no traffic: going inactive, replicas kept until the activator is in the path' };
        }
        return { want: 1, apply: true, reason: `1 pod: active for ${secs(inState)}, less than the ${secs(s.stableWindowSeconds)} stable window` };
      case 'inactive': {
        if (this.activatorSince === null) {
          return { want: 0, apply: false, reason: 'held: nothing can bring it back from zero (no activator in the request path)' };
        }
        // Knative goes to zero once inactive for max(grace, retention); there the activator enters the path
        // as the target goes inactive. Here it may come later, so the grace period runs from when it did.
        if (s.scaleToZeroPodRetentionSeconds > 0 && inState < s.scaleToZeroPodRetentionSeconds) {
          return { want: 0, apply: false, reason: `held: scale-to-zero-pod-retention-period, ${secs(inState)} of ${secs(s.scaleToZeroPodRetentionSeconds)} elapsed` };
        }
        const inPath = now - this.activatorSince;
        if (inPath >= s.scaleToZeroGracePeriodSeconds) {
          return { want: 0, apply: true, reason: `0 pods: the activator has been in the path for ${secs(inPath)}` };
        }
        return {
          want: 0, apply: false,
          reason: `held: scale-to-zero grace period, ${secs(inPath)} of ${secs(s.scaleToZeroGracePeriodSeconds)} elapsed since the activator took the path`,
        };
      }
    }
  }

  /** computeActiveCondition: the Active condition from what is wanted and what is ready. */
  private updateActivity(now: number, want: number, ready: number): void {
    const s = this.spec;
    const minReady = this.initialized ? Math.max(s.minScale, 1) : Math.max(s.minScale, s.initialScale);
    if (ready >= minReady) this.initialized = true;
    let next: ActivityState = this.activity;
    if (want === 0 || minReady === 0) next = 'inactive';
    else if (ready < minReady) {
      if (want > 0 || this.activity !== 'inactive') next = 'activating';
    } else if (want > 0 || this.activity !== 'inactive') next = 'active';
    if (next !== this.activity) {
      this.activity = next;
      this.since = now;
    }
  }
}
