/** One `behavior` policy of a Kubernetes HPA: at most `value` pods or percent per `periodSeconds`. */
export interface HpaScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** `behavior.scaleUp` or `behavior.scaleDown` of an `autoscaling/v2` HorizontalPodAutoscaler. */
export interface HpaScalingRules {
  stabilizationWindowSeconds: number;
  /** Max: the policy allowing the largest change; Min: the smallest; Disabled: no change in this direction. */
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: HpaScalingPolicy[];
  /** Usage ratios within this of 1 change nothing (the controller's --horizontal-pod-autoscaler-tolerance, 0.1). */
  tolerance: number;
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  scaleUp: HpaScalingRules;
  scaleDown: HpaScalingRules;
}

/** Kubernetes' defaults (pkg/apis/autoscaling/v2/defaults.go): up by max(+4 pods, +100 %) per 15 s, no up stabilization. */
export const defaultScaleUpRules = (): HpaScalingRules => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }],
  tolerance: 0.1,
});

/** Down by up to 100 % per 15 s, to the highest recommendation of the last 300 s. */
export const defaultScaleDownRules = (): HpaScalingRules => ({
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  tolerance: 0.1,
});

export const defaultHpaSpec = (minReplicas: number, maxReplicas: number): HpaSpec => ({
  minReplicas, maxReplicas, scaleUp: defaultScaleUpRules(), scaleDown: defaultScaleDownRules(),
});

interface ScaleEvent {
  t: number;
  /** Pods added (scale-up events) or removed (scale-down events). */
  change: number;
}

/** Pods added or removed by the events of the last `periodSeconds` (strictly after its start, as the controller). */
function changeInPeriod(events: readonly ScaleEvent[], now: number, periodSeconds: number): number {
  let sum = 0;
  for (const e of events) if (e.t > now - periodSeconds) sum += e.change;
  return sum;
}

/**
 * The Kubernetes HPA controller's replica calculation for one target
 * (pkg/controller/podautoscaler/horizontal.go), with `behavior`: the usage
 * ratio outside the tolerance gives ceil(current × ratio); the recommendation
 * is stabilized (no higher than the lowest of the scale-up window, no lower
 * than the highest of the scale-down window); the change is limited by the
 * direction's policies relative to the replicas at the start of each
 * policy's period, and by min/max replicas. Pure: `now` in seconds.
 */
export class HpaScaler {
  private recommendations: { t: number; replicas: number }[] = [];
  private upEvents: ScaleEvent[] = [];
  private downEvents: ScaleEvent[] = [];

  constructor(private readonly spec: HpaSpec) {}

  step(now: number, currentReplicas: number, metricPerPod: number, target: number): number {
    const { minReplicas, maxReplicas } = this.spec;
    const current = Math.max(currentReplicas, 0);
    // Outside the bounds the controller goes straight back inside them, with no behavior applied.
    let next: number;
    if (current > maxReplicas) next = maxReplicas;
    else if (current < minReplicas) next = minReplicas;
    else next = this.rateLimited(now, current, this.stabilized(now, current, this.fromMetric(current, metricPerPod / target)));
    this.recordEvent(now, current, next);
    return next;
  }

  private fromMetric(current: number, ratio: number): number {
    const { scaleUp, scaleDown } = this.spec;
    if (ratio > 1 && ratio <= 1 + scaleUp.tolerance) return current;
    if (ratio < 1 && ratio >= 1 - scaleDown.tolerance) return current;
    return Math.ceil(current * ratio);
  }

  private stabilized(now: number, current: number, desired: number): number {
    const upCutoff = now - this.spec.scaleUp.stabilizationWindowSeconds;
    const downCutoff = now - this.spec.scaleDown.stabilizationWindowSeconds;
    let up = desired;
    let down = desired;
    for (const r of this.recommendations) {
      if (r.t > upCutoff) up = Math.min(up, r.replicas);
      if (r.t > downCutoff) down = Math.max(down, r.replicas);
    }
    this.recommendations = this.recommendations.filter((r) => r.t >= upCutoff || r.t >= downCutoff);
    this.recommendations.push({ t: now, replicas: desired });
    return Math.min(Math.max(current, up), down);
  }

  private rateLimited(now: number, current: number, recommended: number): number {
    const { minReplicas, maxReplicas, scaleUp, scaleDown } = this.spec;
    if (recommended > current) return Math.min(recommended, maxReplicas, Math.max(this.limit(now, current, scaleUp, 1), current));
    if (recommended < current) return Math.max(recommended, minReplicas, Math.min(this.limit(now, current, scaleDown, -1), current));
    return recommended;
  }

  /** The furthest the rules allow in a direction (+1 up, −1 down), from each policy's period-start replicas. */
  private limit(now: number, current: number, rules: HpaScalingRules, direction: 1 | -1): number {
    if (rules.selectPolicy === 'Disabled') return current;
    // Max picks the largest change: the highest count up, the lowest down.
    const pickHighest = (rules.selectPolicy === 'Max') === (direction === 1);
    let result = pickHighest ? -Infinity : Infinity;
    for (const p of rules.policies) {
      const start = current - changeInPeriod(this.upEvents, now, p.periodSeconds) + changeInPeriod(this.downEvents, now, p.periodSeconds);
      const proposed = direction === 1
        ? (p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100)))
        : (p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100)));
      result = pickHighest ? Math.max(result, proposed) : Math.min(result, proposed);
    }
    return result;
  }

  private recordEvent(now: number, previous: number, next: number): void {
    if (next === previous) return;
    // Both directions' events count in every policy's period: keep them for the longest of all.
    const longest = Math.max(0, ...[...this.spec.scaleUp.policies, ...this.spec.scaleDown.policies].map((p) => p.periodSeconds));
    const recent = (e: ScaleEvent) => e.t > now - longest;
    this.upEvents = this.upEvents.filter(recent);
    this.downEvents = this.downEvents.filter(recent);
    if (next > previous) this.upEvents.push({ t: now, change: next - previous });
    else this.downEvents.push({ t: now, change: previous - next });
  }
}
