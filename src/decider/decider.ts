import { MaxTimeWindow } from '../aggregation/maxTimeWindow.js';
import { METRIC_RPS } from '../config/annotations.js';
import type { WindowPair } from '../metrics/collection.js';
import type { DeciderSpec } from './spec.js';

/** The decider reads its revision's windows through this (a Collection is one). */
export interface RevisionMetrics {
  /**
   * The stable and panic averages of concurrency, or of RPS, at `now` into
   * `into`; false when there is no data (Knative's ErrNoData).
   */
  readWindows(now: number, rps: boolean, into: WindowPair): boolean;
}

/** How often deciders run, in seconds (Knative's tickInterval); also the scale-down-delay granularity. */
export const TICK_INTERVAL_SECONDS = 2;

/** A decision, with the inputs and intermediate values that explain it. */
export interface Decision {
  readonly valid: true;
  /** Pods wanted, before min/max bounds and scale-to-zero (the scaler's job). */
  readonly desiredPodCount: number;
  /** Spare capacity beyond target-burst-capacity; negative puts the activator in the path. */
  readonly excessBurstCapacity: number;
  /** Panic mode after this decision. */
  readonly panic: boolean;
  readonly stableValue: number;
  readonly panicValue: number;
  readonly readyPods: number;
  /** ceil(stable / target) and ceil(panic / target), before rate limits. */
  readonly stablePodsWanted: number;
  readonly panicPodsWanted: number;
  /** The rate limits that applied: at most maxScaleUp, at least maxScaleDown pods. */
  readonly maxScaleUp: number;
  readonly maxScaleDown: number;
  /** The count held by scale-down delay instead of a lower one, if it did. */
  readonly delayedFrom: number | null;
}

/**
 * No decision (Knative's invalid ScaleResult): not a scale to zero. `out-of-range`
 * is kpa's own: Knative's arithmetic overflowed (a non-finite window value, or a
 * desired count past int32 that Go turns into MinInt32), which Knative would
 * report as a valid negative count.
 */
export interface NoDecision {
  readonly valid: false;
  readonly reason: 'no-data' | 'out-of-range';
}

export type ScaleResult = Decision | NoDecision;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Go's int32(float64) on amd64: truncation, and MinInt32 for NaN or out of range. */
export function goInt32(x: number): number {
  return x >= INT32_MIN && x <= INT32_MAX ? Math.trunc(x) : INT32_MIN;
}

/**
 * The KPA decision for one revision (Knative's scaling.autoscaler): stable and
 * panic desired pods, rate limits, panic mode, scale-down delay and excess
 * burst capacity. Holds the panic state between calls; `now` is injected.
 */
export class Decider {
  private spec: DeciderSpec;
  private readonly metrics: RevisionMetrics;
  /**
   * This decider's window averages of the current tick, reused: a tick
   * allocates only its Decision. NaN, not 0, so that V8 makes the fields
   * doubles from the start: a field that turns from a small integer into a
   * double deprecates the object's layout, and every decider's optimised tick
   * would deoptimise on its first average until all of them had migrated.
   */
  private readonly observed: WindowPair = { stable: NaN, panic: NaN };
  /**
   * When panic mode was entered or last extended; NOT_PANICKING otherwise. A
   * number either way: a field that changes from null to a number makes V8
   * discard the optimised tick code the first time any decider panics.
   */
  private panicTime: number;
  /** The highest count wanted during this panic: panic never scales down. */
  private maxPanicPods: number;
  /**
   * Holds the highest desired count of the last scale-down-delay. Made once at
   * creation, as in Knative: a later change of the delay does not re-create it.
   */
  private readonly delayWindow: MaxTimeWindow | null;

  /**
   * `readyPods` is the count when the decider is created: above 1 it starts in
   * panic mode holding that many, so a restart never scales a busy revision down.
   */
  constructor(spec: DeciderSpec, metrics: RevisionMetrics, readyPods: number, now: number) {
    this.spec = spec;
    this.metrics = metrics;
    this.delayWindow = spec.scaleDownDelaySeconds > 0
      ? new MaxTimeWindow(spec.scaleDownDelaySeconds, TICK_INTERVAL_SECONDS)
      : null;
    this.panicTime = readyPods > 1 ? now : NOT_PANICKING;
    this.maxPanicPods = readyPods;
  }

  get currentSpec(): DeciderSpec {
    return this.spec;
  }

  get inPanic(): boolean {
    return this.panicTime !== NOT_PANICKING;
  }

  update(spec: DeciderSpec): void {
    this.spec = spec;
  }

  scale(now: number, readyPodCount: number): ScaleResult {
    const spec = this.spec;
    const readyPods = Math.max(1, readyPodCount);
    const observed = this.observed;
    if (!this.metrics.readWindows(now, spec.scalingMetric === METRIC_RPS, observed)) return NO_DATA_RESULT;
    const stable = observed.stable;
    const panic = observed.panic;

    // Always allow growing by at least one pod, whatever the rate.
    const maxScaleUp = Math.ceil(spec.maxScaleUpRate * readyPods);
    // Scale-down limits apply only when the revision is routable.
    const maxScaleDown = spec.reachable ? Math.floor(readyPods / spec.maxScaleDownRate) : 0;

    const stablePodsWanted = Math.ceil(stable / spec.targetValue);
    const panicPodsWanted = Math.ceil(panic / spec.targetValue);
    let desiredStable = goInt32(Math.min(Math.max(stablePodsWanted, maxScaleDown), maxScaleUp));
    let desiredPanic = goInt32(Math.min(Math.max(panicPodsWanted, maxScaleDown), maxScaleUp));
    // Knative would go on with MinInt32 (or an infinite window value) and call the
    // result valid; refuse before the panic state takes it in.
    if (desiredStable < 0 || desiredPanic < 0 || !Number.isFinite(stable) || !Number.isFinite(panic)) {
      return OUT_OF_RANGE_RESULT;
    }

    const activationScale = spec.activationScale;
    if (activationScale > 1) {
      if (stablePodsWanted > 0 && activationScale > desiredStable) desiredStable = activationScale;
      if (panicPodsWanted > 0 && activationScale > desiredPanic) desiredPanic = activationScale;
    }

    const overPanicThreshold = panicPodsWanted / readyPods >= spec.panicThreshold;
    if (overPanicThreshold) {
      // Enter panic, or extend it while the panic window stays over the threshold.
      this.panicTime = now;
    } else if (this.panicTime !== NOT_PANICKING && this.panicTime + spec.stableWindowSeconds < now) {
      // The surge has made its way into the stable window: leave panic.
      this.panicTime = NOT_PANICKING;
      this.maxPanicPods = 0;
    }

    const panicking = this.panicTime !== NOT_PANICKING;
    let desired = desiredStable;
    if (panicking) {
      // Provision for whichever window wants more, and never go down while panicking.
      if (desired < desiredPanic) desired = desiredPanic;
      if (desired > this.maxPanicPods) this.maxPanicPods = desired;
      desired = this.maxPanicPods;
    }

    let delayedFrom: number | null = null;
    if (spec.reachable && this.delayWindow !== null) {
      this.delayWindow.record(now, desired);
      const held = this.delayWindow.current();
      if (held !== desired) {
        delayedFrom = desired;
        desired = held;
      }
    }

    // EBC = total capacity − target burst capacity − requests in flight (panic window: react fast).
    let excess = -1;
    if (spec.targetBurstCapacity === 0) excess = 0;
    else if (spec.targetBurstCapacity > 0) {
      excess = Math.floor(readyPodCount * spec.totalValue - spec.targetBurstCapacity - panic);
    }

    return {
      valid: true,
      desiredPodCount: desired,
      excessBurstCapacity: goInt32(excess),
      panic: panicking,
      stableValue: stable,
      panicValue: panic,
      readyPods: readyPodCount,
      stablePodsWanted,
      panicPodsWanted,
      maxScaleUp,
      maxScaleDown,
      delayedFrom,
    };
  }
}

const NOT_PANICKING = -Infinity;
const NO_DATA_RESULT: NoDecision = Object.freeze({ valid: false, reason: 'no-data' });
const OUT_OF_RANGE_RESULT: NoDecision = Object.freeze({ valid: false, reason: 'out-of-range' });
