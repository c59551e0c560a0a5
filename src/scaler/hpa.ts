/** The Kubernetes HPA's knobs, with its defaults in `defaultHpaBehavior`. */
export interface HpaBehavior {
  minReplicas: number;
  maxReplicas: number;
  /** Ratios within this of 1 change nothing (the controller's --horizontal-pod-autoscaler-tolerance). */
  tolerance: number;
  /** Scale down to the highest recommendation of this window (default 300 s). */
  scaleDownStabilizationSeconds: number;
  /** Scale-up policies per period (default: the larger of +100 % and +4 pods per 15 s). */
  scaleUpPercent: number;
  scaleUpPods: number;
  /** Scale-down policy per period (default: −100 % per 15 s). */
  scaleDownPercent: number;
  periodSeconds: number;
}

export const defaultHpaBehavior = (min: number, max: number): HpaBehavior => ({
  minReplicas: min, maxReplicas: max, tolerance: 0.1, scaleDownStabilizationSeconds: 300,
  scaleUpPercent: 100, scaleUpPods: 4, scaleDownPercent: 100, periodSeconds: 15,
});

/**
 * The Kubernetes HPA algorithm (pkg/controller/podautoscaler): desired =
 * ceil(current × metric / target) outside the tolerance, scale-down
 * stabilized to the highest recommendation of the window, rate-limited by the
 * behavior policies (selectPolicy Max) relative to the replicas at the start
 * of the period, then clamped to min/max. Pure: `now` in seconds.
 */
export class HpaScaler {
  private readonly recommendations: { t: number; replicas: number }[] = [];
  private readonly changes: { t: number; replicas: number }[] = [];

  constructor(private readonly b: HpaBehavior) {}

  step(now: number, currentReplicas: number, metricPerPod: number, target: number): number {
    const b = this.b;
    const current = Math.max(currentReplicas, 0);
    const ratio = metricPerPod / target;
    let desired = current;
    if (current > 0 && Math.abs(ratio - 1) > b.tolerance) desired = Math.ceil(current * ratio);
    if (current === 0) desired = b.minReplicas;
    desired = Math.min(Math.max(desired, b.minReplicas), b.maxReplicas);

    // Stabilization: never below the highest recommendation of the window.
    this.recommendations.push({ t: now, replicas: desired });
    while (this.recommendations.length && this.recommendations[0].t < now - b.scaleDownStabilizationSeconds) this.recommendations.shift();
    if (desired < current) desired = Math.min(current, Math.max(...this.recommendations.map((r) => r.replicas)));

    // Rate limits against the replicas at the start of the period.
    while (this.changes.length && this.changes[0].t <= now - b.periodSeconds) this.changes.shift();
    const base = this.changes.length ? this.changes[0].replicas : current;
    const upLimit = Math.max(Math.ceil(base * (1 + b.scaleUpPercent / 100)), base + b.scaleUpPods);
    const downLimit = Math.floor(base * (1 - b.scaleDownPercent / 100));
    desired = Math.min(Math.max(desired, downLimit), upLimit);
    desired = Math.min(Math.max(desired, b.minReplicas), b.maxReplicas);
    if (desired !== current) this.changes.push({ t: now, replicas: current });
    return desired;
  }
}
