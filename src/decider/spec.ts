/** The parameters the decider scales by (Knative's scaling.DeciderSpec); durations in seconds. */
export interface DeciderSpec {
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  /** `concurrency` or `rps`. */
  scalingMetric: string;
  /** The per-pod value of the scaling metric the autoscaler aims for (≤ totalValue). */
  targetValue: number;
  /** The per-pod value a pod can take at most. */
  totalValue: number;
  /** Burst headroom to keep without queueing at pods; -1 keeps the activator in the path. */
  targetBurstCapacity: number;
  activatorCapacity: number;
  /** Panic when panic-window pods / ready pods reach this factor. */
  panicThreshold: number;
  stableWindowSeconds: number;
  scaleDownDelaySeconds: number;
  initialScale: number;
  /** Whether a route references the revision; scale-down limits and delays apply only then. */
  reachable: boolean;
  /** The minimum non-zero scale (0 when not set). */
  activationScale: number;
}
