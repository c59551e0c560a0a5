import { annotationSeconds } from '../config/annotations.js';
import { scaleBounds } from '../config/resolve.js';
import type { ResolvedRevision } from '../config/revisionConfig.js';

/** Knative's default progress deadline (config-deployment `progress-deadline`). */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
/** Knative's activationTimeoutBuffer: activation may take the progress deadline plus this. */
export const ACTIVATION_TIMEOUT_BUFFER_SECONDS = 30;

/** What the scaler needs of a revision's settings; durations in seconds. */
export interface ScalerSpec {
  minScale: number;
  /** 0 = unbounded. */
  maxScale: number;
  initialScale: number;
  enableScaleToZero: boolean;
  scaleToZeroGracePeriodSeconds: number;
  /** How long the last pod stays after the revision went inactive (0 for unreachable revisions). */
  scaleToZeroPodRetentionSeconds: number;
  stableWindowSeconds: number;
  /** Activating longer than this gives up and lets the target go to zero. */
  activationTimeoutSeconds: number;
  reachable: boolean;
}

/** The scaler's spec as Knative derives it (ScaleBounds, GetInitialScale, lastPodRetention, activation timeout). */
export function scalerSpecFor(resolved: ResolvedRevision, options: { progressDeadlineSeconds?: number } = {}): ScalerSpec {
  const { config, revision, decider } = resolved;
  const { min, max } = scaleBounds(revision, config);
  const retention = revision.reachable
    ? annotationSeconds(revision.annotations, 'scaleToZeroPodRetentionPeriod') ?? config.scaleToZeroPodRetentionPeriodSeconds
    : 0;
  const progressDeadline = annotationSeconds(revision.annotations, 'progressDeadline')
    ?? options.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  return {
    minScale: min,
    maxScale: max,
    initialScale: decider.initialScale,
    enableScaleToZero: config.enableScaleToZero,
    scaleToZeroGracePeriodSeconds: config.scaleToZeroGracePeriodSeconds,
    scaleToZeroPodRetentionSeconds: retention,
    stableWindowSeconds: decider.stableWindowSeconds,
    activationTimeoutSeconds: progressDeadline + ACTIVATION_TIMEOUT_BUFFER_SECONDS,
    reachable: revision.reachable,
  };
}
