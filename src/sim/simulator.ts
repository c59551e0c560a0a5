import { resolveRevision } from '../config/revisionConfig.js';
import { type ScaleResult, TICK_INTERVAL_SECONDS } from '../decider/decider.js';
import { RevisionAutoscaler } from '../decider/multiScaler.js';
import { aggregateScrapedStats, sampleSize, scrapeOrder } from '../metrics/scrapeSampling.js';
import type { Stat } from '../metrics/stat.js';
import type { Recorder } from '../recording/recorder.js';
import { HpaScaler, milliValue, type PodMetrics } from '../scaler/hpa.js';
import { RevisionScaler, scalerSpecFor } from '../scaler/index.js';
import type { Random } from './random.js';
import type { PolicyReport, SecondExtras, TimeseriesRow } from './report.js';
import { type HpaPolicySpec, type PolicySpec, policySettings, type Scenario, type SimRevision } from './scenario.js';
import { type SecondStats, ServingModel } from './servingModel.js';

/** Virtual time starts here (seconds since the epoch), so recordings look like real ones. */
export const SIM_EPOCH = 1_700_000_000;
/** The Kubernetes HPA's sync period (--horizontal-pod-autoscaler-sync-period). */
const HPA_PERIOD_SECONDS = 15;
/** Each pod's metric is its mean over the seconds it was ready within this window before a sync. */
const HPA_METRIC_WINDOW_SECONDS = 15;
/** --horizontal-pod-autoscaler-cpu-initialization-period: for `utilization`, a pod started this recently is set aside until one metric window after it became ready. */
const HPA_CPU_INITIALIZATION_PERIOD_SECONDS = 300;
/** For `utilization`: every pod requests one core; its metric is its busy fraction of it. */
const HPA_CPU_REQUEST_MILLI = 1000;

/** The HPA for a scenario policy: a Pods metric with an average value, or a Resource metric with a utilization. */
function hpaScaler(spec: HpaPolicySpec): HpaScaler {
  return new HpaScaler(spec, spec.metric === 'utilization'
    ? { type: 'Utilization', averageUtilization: spec.target, requestMilli: HPA_CPU_REQUEST_MILLI }
    : { type: 'AverageValue', averageValueMilli: milliValue(spec.target) });
}

export interface SimulateOptions {
  /** Each simulated second: its timeseries.csv row, and what the charts need beyond it. */
  onSecond?: (row: TimeseriesRow, extras: SecondExtras) => void;
  /** Writes what the KPA engine sees, for `kpa replay` (KPA policies only). */
  recorder?: Recorder;
  /** Each KPA decision as the decider made it (at epoch seconds). */
  onDecision?: (t: number, result: ScaleResult) => void;
}

/**
 * One revision under one policy, in virtual time: the serving model (pods,
 * activator, arrivals) driven by the same collector, decider and scaler as
 * the live service — queue-proxy stats each second sampled like the scraper
 * does, the activator's stats as the stat server records them — or by the
 * HPA algorithm, or a fixed pool.
 */
export class RevisionSimulation {
  private readonly model: ServingModel;
  private readonly autoscaler: RevisionAutoscaler | null = null;
  private readonly scaler: RevisionScaler | null = null;
  private readonly hpa: HpaScaler | null = null;
  /** Per ready pod, its metric's samples of the last window: (second, value). */
  private readonly hpaSamples = new Map<string, { t: number; value: number }[]>();
  private lastReady = -1;
  private panicSeconds = 0;
  private readonly stableWindow: number;

  constructor(
    private readonly scenario: Scenario,
    private readonly revision: SimRevision,
    private readonly policy: PolicySpec,
    /** Service times, cold starts, pod sampling: this policy's own stream. */
    private readonly rng: Random,
    /** Arrivals: the same stream for every policy of a revision, so they see the same workload. */
    arrivalRng: Random,
    private readonly options: SimulateOptions = {},
  ) {
    const settings = policySettings(revision.settings, policy);
    const resolved = resolveRevision(settings);
    this.stableWindow = resolved.metric.stableWindowSeconds;
    let initial: number;
    if (policy.kind === 'kpa') {
      initial = resolved.decider.initialScale;
      const key = { namespace: revision.namespace, name: revision.name };
      this.autoscaler = new RevisionAutoscaler(key, resolved, initial, SIM_EPOCH);
      this.scaler = new RevisionScaler(scalerSpecFor(resolved), SIM_EPOCH);
      options.recorder?.revision(SIM_EPOCH, key, settings, initial);
    } else if (policy.kind === 'hpa') {
      initial = policy.hpa.minReplicas;
      this.hpa = hpaScaler(policy.hpa);
    } else initial = policy.replicas;
    // A KPA revision starts with the activator in the path (its SKS in proxy mode) until the
    // reconciler first wants pods with excess burst capacity ≥ 0 (see decide). HPA-class
    // revisions are always in serve mode: the activator only takes requests when no pod is ready.
    // The revision starts deployed: its initial pods are ready at t = 0.
    this.model = new ServingModel(revision, rng, arrivalRng, policy.kind === 'kpa', scenario.duration, initial);
  }

  run(): PolicyReport {
    const onSecond = this.options.onSecond;
    // For the charts: the latencies completed each second, and failures per second.
    const latenciesMs: number[] = [];
    if (onSecond) this.model.onLatency = (ms) => latenciesMs.push(ms);
    let failedBefore = this.model.failed;
    let rejectedBefore = this.model.rejected;
    for (let t = 1; t <= this.scenario.duration; t++) {
      const second = this.model.closeSecond(t);
      if (this.autoscaler) this.kpaSecond(t, second);
      else if (this.hpa) this.hpaSecond(t, second);
      const latest = this.autoscaler?.lastResult;
      const decision = latest?.valid ? latest : null;
      if (decision?.panic) this.panicSeconds++;
      if (!onSecond) continue;
      onSecond({
        t, revision: this.revision.name, policy: this.policy.name, arrivals: second.arrivals, inFlight: second.inFlight,
        readyPods: second.readyPods.length, desiredPods: this.model.targetReplicas, stableValue: decision?.stableValue ?? null,
        panicValue: decision?.panicValue ?? null, panic: decision?.panic ?? false, activatorQueue: second.activatorQueue,
      }, { latenciesMs, failed: this.model.failed - failedBefore, rejected: this.model.rejected - rejectedBefore });
      failedBefore = this.model.failed;
      rejectedBefore = this.model.rejected;
      latenciesMs.length = 0;
    }
    return this.report();
  }

  private kpaSecond(t: number, second: SecondStats): void {
    const autoscaler = this.autoscaler!;
    const key = autoscaler.key;
    const at = SIM_EPOCH + t;
    const ready = second.readyPods.length;
    if (ready !== this.lastReady) {
      this.lastReady = ready;
      autoscaler.readyPods = ready;
      this.options.recorder?.ready(at, key, ready);
    }
    let poke = false;
    if (ready > 0 && autoscaler.resolved.metric.scraped) {
      // As the scraper: a sample of the ready pods, older ones first, scaled up to all of them.
      const pods = second.readyPods.map((pod, i) => ({ name: pod.name, startedAt: pod.startedAt, stat: second.podStats[i] }));
      const sample = scrapeOrder(pods, t, this.stableWindow, () => this.rng.next()).slice(0, sampleSize(ready));
      poke = this.record(at, aggregateScrapedStats(sample.map((p) => p.stat), ready)) || poke;
    }
    const activator = second.activatorStat;
    if (activator.requestCount > 0 || activator.averageConcurrentRequests > 0) poke = this.record(at, activator) || poke;
    // A stat with load for a revision at zero decides at once (Knative's poke), else every 2 s.
    if (t % TICK_INTERVAL_SECONDS === 0 || poke) this.decide(t);
  }

  private record(at: number, stat: Stat): boolean {
    const autoscaler = this.autoscaler!;
    this.options.recorder?.stat(at, autoscaler.key, stat);
    autoscaler.record(at, stat);
    return autoscaler.desiredScale === 0 && stat.averageConcurrentRequests !== 0;
  }

  private decide(t: number): void {
    const autoscaler = this.autoscaler!;
    const at = SIM_EPOCH + t;
    this.options.recorder?.tick(at, autoscaler.key);
    const result = autoscaler.tick(at);
    this.options.onDecision?.(at, result);
    // The activator is in the path if the SKS is in proxy mode or no pod is ready (the SKS
    // reconciler's override); a switch takes effect at the next decision, as the SKS and the
    // activator probe would lag the PodAutoscaler's reconcile.
    const out = this.scaler!.step({
      now: at, desiredScale: autoscaler.desiredScale, readyPods: autoscaler.readyPods,
      currentReplicas: this.model.targetReplicas, activatorInPath: this.model.activatorInPath(),
    });
    if (out.replicas !== null) this.model.setReplicas(out.replicas, t);
    // Knative's KPA reconciler: serve mode (the activator out of the path) only when it wants
    // pods and the excess burst capacity is ≥ 0; else proxy mode.
    this.model.activatorMode = !(out.want > 0 && autoscaler.excessBurstCapacity >= 0);
  }

  /**
   * What the metrics pipeline gives the HPA controller each second, and a
   * sync every 15 s: ready pods have a metric (their mean over the window),
   * starting pods none (missing: 0 on a scale-up, the target on a
   * scale-down), draining pods are being deleted and left out; the current
   * replicas are the spec's.
   */
  private hpaSecond(t: number, second: SecondStats): void {
    if (this.policy.kind !== 'hpa') return;
    const utilization = this.policy.hpa.metric === 'utilization';
    const ready = second.readyPods;
    // SecondStats sums the ready pods' busy time: each gets an even share.
    const busyShare = ready.length > 0 ? second.busySeconds / ready.length : 0;
    ready.forEach((pod, i) => {
      let samples = this.hpaSamples.get(pod.name);
      if (!samples) this.hpaSamples.set(pod.name, samples = []);
      samples.push({ t, value: utilization ? busyShare : second.podStats[i].averageConcurrentRequests });
      while (samples[0].t <= t - HPA_METRIC_WINDOW_SECONDS) samples.shift();
    });
    if (t % HPA_PERIOD_SECONDS !== 0) return;
    const readyNames = new Set(ready.map((p) => p.name));
    for (const name of this.hpaSamples.keys()) if (!readyNames.has(name)) this.hpaSamples.delete(name);
    const metrics: PodMetrics & { ready: number[] } = { ready: [], unready: 0, missing: 0 };
    for (const pod of ready) {
      // groupPods' CPU rule: within its initialization period, a pod whose metric window began before it was ready is unready.
      if (utilization && pod.startedAt + HPA_CPU_INITIALIZATION_PERIOD_SECONDS > t && t < pod.readyAt + HPA_METRIC_WINDOW_SECONDS) {
        metrics.unready++;
        continue;
      }
      const samples = this.hpaSamples.get(pod.name)!;
      const mean = samples.reduce((s, x) => s + x.value, 0) / samples.length;
      // Quantities in integer milli-units (a CPU usage in millicores of the one-core request).
      metrics.ready.push(Math.round(mean * (utilization ? HPA_CPU_REQUEST_MILLI : 1000)));
    }
    for (const pod of this.model.pods) if (pod.state === 'starting') metrics.missing++;
    this.model.setReplicas(this.hpa!.step(t, this.model.targetReplicas, metrics), t);
  }

  private report(): PolicyReport {
    const m = this.model;
    const duration = this.scenario.duration;
    const round = (x: number, d = 3) => Number(x.toFixed(d));
    return {
      revision: this.revision.name,
      policy: this.policy.name,
      requests: { total: m.total, completed: m.completed, failed: m.failed, rejected: m.rejected, coldStarts: m.coldStarts },
      latencyMs: {
        p50: round(m.latency.quantile(0.5)), p90: round(m.latency.quantile(0.9)), p99: round(m.latency.quantile(0.99)),
        max: round(m.latency.max), mean: round(m.latency.mean),
      },
      queueMs: { p50: round(m.queueing.quantile(0.5)), p99: round(m.queueing.quantile(0.99)), mean: round(m.queueing.mean) },
      podSeconds: m.podSeconds,
      pods: { max: m.podsMax, mean: round(m.podSeconds / duration) },
      scaleEvents: m.scaleEvents,
      timeInPanicS: this.panicSeconds,
      inFlightMean: round(m.inFlightArea / duration, 6),
      latencyHistogram: m.latency.buckets().map(([ms, n]) => [round(ms, 4), n]),
    };
  }
}
