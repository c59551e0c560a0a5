/**
 * The Kubernetes HorizontalPodAutoscaler controller for one target with one
 * per-pod metric, as kube-controller-manager computes it
 * (pkg/controller/podautoscaler: replica_calculator.go for the replica count
 * from the pods' metrics, horizontal.go for stabilization, rate limits and
 * min/max). Metrics are integer milli-units, as the controller gets them from
 * `resource.Quantity.MilliValue()`. Pure: time is passed in, in seconds.
 * docs/hpa-model.md says what is mirrored and what is simplified.
 */

/** One `behavior` policy: at most `value` pods or percent per `periodSeconds`. */
export interface HpaScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

/** `behavior.scaleUp` or `behavior.scaleDown` of an `autoscaling/v2` HorizontalPodAutoscaler, defaults filled in. */
export interface HpaScalingRules {
  stabilizationWindowSeconds: number;
  /** Max: the policy allowing the largest change; Min: the smallest; Disabled: no change in this direction. */
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: HpaScalingPolicy[];
  /** Usage ratios within this of 1 change nothing in this direction (Kubernetes 1.33's per-direction tolerance). */
  tolerance: number;
}

export interface HpaBehavior {
  scaleUp: HpaScalingRules;
  scaleDown: HpaScalingRules;
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  /** The controller's --horizontal-pod-autoscaler-tolerance: both directions when `behavior` is absent. */
  tolerance: number;
  /** The controller's --horizontal-pod-autoscaler-downscale-stabilization, in seconds: the window when `behavior` is absent. */
  downscaleStabilizationSeconds: number;
  /**
   * `spec.behavior`; null when the HPA has none. The two are different
   * controllers' paths: without behavior, scale-up is capped at
   * max(2 × current, 4) per sync and scale-down has no rate limit
   * (normalizeDesiredReplicas); with it, the policies apply
   * (normalizeDesiredReplicasWithBehaviors).
   */
  behavior: HpaBehavior | null;
}

/** The controller flags' defaults. */
export const DEFAULT_TOLERANCE = 0.1;
export const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS = 300;
/** `calculateScaleUpLimit`'s constants (horizontal.go), for an HPA without behavior. */
const SCALE_UP_LIMIT_FACTOR = 2;
const SCALE_UP_LIMIT_MINIMUM = 4;

/** GenerateHPAScaleUpRules' defaults (pkg/apis/autoscaling/v2/defaults.go): up by max(+4 pods, +100 %) per 15 s, no stabilization. */
export const defaultScaleUpRules = (tolerance = DEFAULT_TOLERANCE): HpaScalingRules => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }],
  tolerance,
});

/**
 * GenerateHPAScaleDownRules' defaults: down by up to 100 % per 15 s; the
 * window is left nil there and the controller fills in its
 * --horizontal-pod-autoscaler-downscale-stabilization (maybeInitScaleDownStabilizationWindow).
 */
export const defaultScaleDownRules = (
  stabilizationWindowSeconds = DEFAULT_DOWNSCALE_STABILIZATION_SECONDS, tolerance = DEFAULT_TOLERANCE,
): HpaScalingRules => ({
  stabilizationWindowSeconds,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  tolerance,
});

/** An HPA without `behavior` (the controller's nil-behavior path) and the controller's default flags. */
export const hpaSpec = (minReplicas: number, maxReplicas: number, behavior: HpaBehavior | null = null): HpaSpec => ({
  minReplicas, maxReplicas, tolerance: DEFAULT_TOLERANCE, downscaleStabilizationSeconds: DEFAULT_DOWNSCALE_STABILIZATION_SECONDS, behavior,
});

/** `behavior: {}`: both directions with the API defaults. */
export const defaultBehavior = (): HpaBehavior => ({ scaleUp: defaultScaleUpRules(), scaleDown: defaultScaleDownRules() });

// --- replica_calculator.go ------------------------------------------------------

/** What the metrics pipeline returns for the target's pods, grouped as groupPods does. */
export interface PodMetrics {
  /** Integer milli-values of the pods counted as ready (readyPodCount): pods with a metric, not set aside. */
  ready: readonly number[];
  /** Pods with a metric set aside as unready (Pending; for CPU, not ready or within its initialization): 0 on a scale-up, else left out. */
  unready: number;
  /** Pods without a metric: 0 on a scale-up, the target on a scale-down. */
  missing: number;
}

/**
 * The metric and its target. `AverageValue`: a Pods metric (custom metrics
 * API) with `target.averageValue`, through calcPlainMetricReplicas.
 * `Utilization`: a Resource metric with `target.averageUtilization` percent of
 * every pod's request, through GetResourceReplicas.
 */
export type HpaTarget =
  | { type: 'AverageValue'; averageValueMilli: number }
  | { type: 'Utilization'; averageUtilization: number; requestMilli: number };

/** Tolerances (replica_calculator.go): ratios in [1 − scaleDown, 1 + scaleUp] change nothing. */
export interface Tolerances {
  scaleDown: number;
  scaleUp: number;
}

export const isWithinTolerance = (t: Tolerances, usageRatio: number): boolean => 1 - t.scaleDown <= usageRatio && usageRatio <= 1 + t.scaleUp;

/** Go's int64 division of non-negative integers (truncating), exact for safe integers. */
function intDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q--;
  else if ((q + 1) * b <= a) q++;
  return q;
}

/** GetMetricUsageRatio (metrics/utilization.go): the integer mean of the values over the target. */
function metricUsageRatio(values: readonly number[], targetMilli: number): number {
  const total = values.reduce((s, v) => s + v, 0);
  return intDiv(total, values.length) / targetMilli;
}

/** GetResourceUtilizationRatio with equal requests: the integer utilization percent over the target percent. */
function resourceUsageRatio(values: readonly number[], requestMilli: number, targetUtilization: number): number {
  const total = values.reduce((s, v) => s + v, 0);
  const utilization = intDiv(total * 100, requestMilli * values.length);
  return utilization / targetUtilization;
}

/**
 * The replica count one metric asks for: calcPlainMetricReplicas for
 * `AverageValue`, GetResourceReplicas for `Utilization`. Null where the
 * controller errors ("did not receive metrics for targeted pods"): no ready
 * pod has a metric, and the controller does not scale this sync.
 *
 * Without unready or missing pods: ceil(ratio × ready) outside the tolerance.
 * With them, the ratio is computed again with missing pods at 0 (scale-up) or
 * at the target (scale-down) and, on a scale-up, unready pods at 0; if that
 * falls within the tolerance or reverses the direction, nothing changes.
 */
export function metricReplicas(currentReplicas: number, pods: PodMetrics, target: HpaTarget, tolerances: Tolerances): number | null {
  if (pods.ready.length === 0) return null;
  const ratio = (values: readonly number[]) => target.type === 'AverageValue'
    ? metricUsageRatio(values, target.averageValueMilli)
    : resourceUsageRatio(values, target.requestMilli, target.averageUtilization);
  const usageRatio = ratio(pods.ready);
  const scaleUpWithUnready = pods.unready > 0 && usageRatio > 1;
  if (!scaleUpWithUnready && pods.missing === 0) {
    if (isWithinTolerance(tolerances, usageRatio)) return currentReplicas;
    return Math.ceil(usageRatio * pods.ready.length);
  }
  const values = [...pods.ready];
  if (pods.missing > 0) {
    // At exactly 1 the controller gives missing pods no value at all.
    let fallback: number | null = null;
    if (usageRatio < 1) {
      fallback = target.type === 'AverageValue'
        ? target.averageValueMilli
        // 100 % of the request, or the target when it is above 100 %.
        : intDiv(target.requestMilli * Math.max(100, target.averageUtilization), 100);
    } else if (usageRatio > 1) fallback = 0;
    if (fallback !== null) for (let i = 0; i < pods.missing; i++) values.push(fallback);
  }
  if (scaleUpWithUnready) for (let i = 0; i < pods.unready; i++) values.push(0);
  const newUsageRatio = ratio(values);
  if (isWithinTolerance(tolerances, newUsageRatio) || (usageRatio < 1 && newUsageRatio > 1) || (usageRatio > 1 && newUsageRatio < 1)) {
    return currentReplicas;
  }
  const newReplicas = Math.ceil(newUsageRatio * values.length);
  // Nor when counting the added pods turns the direction around.
  if ((newUsageRatio < 1 && newReplicas > currentReplicas) || (newUsageRatio > 1 && newReplicas < currentReplicas)) return currentReplicas;
  return newReplicas;
}

// --- horizontal.go ---------------------------------------------------------------------

export interface TimestampedScaleEvent {
  t: number;
  replicaChange: number;
  outdated: boolean;
}

interface TimestampedRecommendation {
  t: number;
  recommendation: number;
}

/** getReplicasChangePerPeriod: the changes of events strictly after now − period. */
function replicasChangePerPeriod(now: number, periodSeconds: number, events: readonly TimestampedScaleEvent[]): number {
  let sum = 0;
  for (const e of events) if (e.t > now - periodSeconds) sum += e.replicaChange;
  return sum;
}

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** calculateScaleUpLimitWithScalingRules. */
export function scaleUpLimit(now: number, current: number, upEvents: readonly TimestampedScaleEvent[], downEvents: readonly TimestampedScaleEvent[], rules: HpaScalingRules): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? INT32_MAX : INT32_MIN;
  for (const p of rules.policies) {
    const periodStart = current - replicasChangePerPeriod(now, p.periodSeconds, upEvents) + replicasChangePerPeriod(now, p.periodSeconds, downEvents);
    // Percent rounds up, or a small percentage would never add a pod.
    const proposed = p.type === 'Pods' ? periodStart + p.value : Math.trunc(Math.ceil(periodStart * (1 + p.value / 100)));
    result = pick(result, proposed);
  }
  return result;
}

/** calculateScaleDownLimitWithBehaviors. */
export function scaleDownLimit(now: number, current: number, upEvents: readonly TimestampedScaleEvent[], downEvents: readonly TimestampedScaleEvent[], rules: HpaScalingRules): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // The smallest change down is the highest count.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? INT32_MIN : INT32_MAX;
  for (const p of rules.policies) {
    const periodStart = current - replicasChangePerPeriod(now, p.periodSeconds, upEvents) + replicasChangePerPeriod(now, p.periodSeconds, downEvents);
    const proposed = p.type === 'Pods' ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** calculateScaleUpLimit: an HPA without behavior at most doubles per sync, or goes to 4. */
export const nilBehaviorScaleUpLimit = (current: number): number => Math.trunc(Math.max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM));

/** convertDesiredReplicasWithRules: min, then max(2 × current, 4) capped by max replicas. */
export function convertDesiredReplicasWithRules(current: number, desired: number, minReplicas: number, maxReplicas: number): number {
  const limit = nilBehaviorScaleUpLimit(current);
  const maximumAllowed = maxReplicas > limit ? limit : maxReplicas;
  if (desired < minReplicas) return minReplicas;
  if (desired > maximumAllowed) return maximumAllowed;
  return desired;
}

/**
 * The controller's state for one HPA: past recommendations and, with
 * `behavior`, past scale events. `step` is one sync (reconcileAutoscaler)
 * and returns the replicas to set.
 */
export class HpaScaler {
  private recommendations: TimestampedRecommendation[] = [];
  private upEvents: TimestampedScaleEvent[] = [];
  private downEvents: TimestampedScaleEvent[] = [];

  constructor(private readonly spec: HpaSpec, private readonly target: HpaTarget) {}

  /** The tolerances of tolerancesForHpa: the flag's, overridden per direction by the behavior's. */
  get tolerances(): Tolerances {
    const b = this.spec.behavior;
    return { scaleUp: b ? b.scaleUp.tolerance : this.spec.tolerance, scaleDown: b ? b.scaleDown.tolerance : this.spec.tolerance };
  }

  /** One sync at `now` (s): `currentReplicas` is the target's spec replicas, `pods` what the metrics pipeline returned. */
  step(now: number, currentReplicas: number, pods: PodMetrics): number {
    return this.reconcile(now, currentReplicas, metricReplicas(currentReplicas, pods, this.target, this.tolerances));
  }

  /**
   * reconcileAutoscaler from the metric's replica count (null: the metrics
   * failed): bounds, then the nil-behavior or the behavior normalization,
   * then the scale event is recorded.
   */
  reconcile(now: number, currentReplicas: number, metricDesired: number | null): number {
    const { minReplicas, maxReplicas, behavior } = this.spec;
    // A target scaled to zero by hand is left alone ("ScalingDisabled").
    if (currentReplicas === 0 && minReplicas !== 0) return 0;
    let desired: number;
    // Outside the bounds the controller goes straight back inside them: no metrics, no stabilization, no rate limit.
    if (currentReplicas > maxReplicas) desired = maxReplicas;
    else if (currentReplicas < minReplicas) desired = minReplicas;
    else {
      // FailedComputeMetricsReplicas: no rescale and nothing recorded.
      if (metricDesired === null) return currentReplicas;
      desired = behavior
        ? this.normalizeWithBehaviors(now, behavior, currentReplicas, metricDesired)
        : this.normalize(now, currentReplicas, metricDesired);
    }
    if (desired !== currentReplicas) this.storeScaleEvent(now, currentReplicas, desired);
    return desired;
  }

  /** normalizeDesiredReplicas: the highest recommendation of the downscale window, then convertDesiredReplicasWithRules. */
  private normalize(now: number, current: number, prenormalized: number): number {
    const cutoff = now - this.spec.downscaleStabilizationSeconds;
    let max = prenormalized;
    let old = -1;
    this.recommendations.forEach((r, i) => {
      if (r.t < cutoff) old = i;
      else if (r.recommendation > max) max = r.recommendation;
    });
    this.record(old, now, prenormalized);
    return convertDesiredReplicasWithRules(current, max, this.spec.minReplicas, this.spec.maxReplicas);
  }

  /** normalizeDesiredReplicasWithBehaviors: stabilizeRecommendationWithBehaviors, then convertDesiredReplicasWithBehaviorRate. */
  private normalizeWithBehaviors(now: number, behavior: HpaBehavior, current: number, prenormalized: number): number {
    const upCutoff = now - behavior.scaleUp.stabilizationWindowSeconds;
    const downCutoff = now - behavior.scaleDown.stabilizationWindowSeconds;
    let up = prenormalized;
    let down = prenormalized;
    let old = -1;
    this.recommendations.forEach((r, i) => {
      if (r.t > upCutoff) up = Math.min(up, r.recommendation);
      if (r.t > downCutoff) down = Math.max(down, r.recommendation);
      if (r.t < upCutoff && r.t < downCutoff) old = i;
    });
    let stabilized = current;
    if (stabilized < up) stabilized = up;
    if (stabilized > down) stabilized = down;
    this.record(old, now, prenormalized);
    return this.withBehaviorRate(now, behavior, current, stabilized);
  }

  /** Records the unstabilized recommendation, reusing an obsolete slot as the controller does. */
  private record(oldIndex: number, now: number, recommendation: number): void {
    if (oldIndex >= 0) this.recommendations[oldIndex] = { t: now, recommendation };
    else this.recommendations.push({ t: now, recommendation });
  }

  /** convertDesiredReplicasWithBehaviorRate. */
  private withBehaviorRate(now: number, behavior: HpaBehavior, current: number, desired: number): number {
    const { minReplicas, maxReplicas } = this.spec;
    if (desired > current) {
      // Never below current: after a policy change the events may say the period started higher.
      const limit = Math.max(scaleUpLimit(now, current, this.upEvents, this.downEvents, behavior.scaleUp), current);
      const maximumAllowed = maxReplicas > limit ? limit : maxReplicas;
      return desired > maximumAllowed ? maximumAllowed : desired;
    }
    if (desired < current) {
      const limit = Math.min(scaleDownLimit(now, current, this.upEvents, this.downEvents, behavior.scaleDown), current);
      const minimumAllowed = minReplicas < limit ? limit : minReplicas;
      return desired < minimumAllowed ? minimumAllowed : desired;
    }
    return desired;
  }

  /**
   * storeScaleEvent: only with behavior. Events older than the direction's
   * longest policy period are marked outdated and the last of them is reused;
   * until reused they still count in the other direction's periods.
   */
  private storeScaleEvent(now: number, previous: number, next: number): void {
    const behavior = this.spec.behavior;
    if (!behavior) return;
    const up = next > previous;
    const rules = up ? behavior.scaleUp : behavior.scaleDown;
    const events = up ? this.upEvents : this.downEvents;
    const cutoff = now - Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
    let old = -1;
    events.forEach((e, i) => {
      if (e.t < cutoff) e.outdated = true;
      if (e.outdated) old = i;
    });
    const event = { t: now, replicaChange: Math.abs(next - previous), outdated: false };
    if (old >= 0) events[old] = event;
    else events.push(event);
  }
}

/** A quantity as `MilliValue()` reads it: exact decimals stay exact, finer ones round up (at least 1m for a positive value). */
export function milliValue(x: number): number {
  const m = x * 1000;
  const r = Math.round(m);
  // Decimal inputs such as 0.7 are not exact in binary: within float noise of an integer, take the integer.
  if (Math.abs(m - r) <= 1e-9 * Math.max(1, Math.abs(m))) return r;
  return Math.ceil(m);
}
