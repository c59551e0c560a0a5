import { resolveRevision } from '../config/revisionConfig.js';
import { type ScaleResult, TICK_INTERVAL_SECONDS } from '../decider/decider.js';
import { RevisionAutoscaler } from '../decider/multiScaler.js';
import { aggregateScrapedStats, sampleSize, scrapeOrder } from '../metrics/scrapeSampling.js';
import type { Stat } from '../metrics/stat.js';
import type { Recorder } from '../recording/recorder.js';
import { HpaScaler } from '../scaler/hpa.js';
import { RevisionScaler, scalerSpecFor } from '../scaler/index.js';
import type { Random } from './random.js';
import type { PolicyReport, SecondExtras, TimeseriesRow } from './report.js';
import { type PolicySpec, policySettings, type Scenario, type SimRevision } from './scenario.js';
import { type SecondStats, ServingModel } from './servingModel.js';

/** Virtual time starts here (seconds since the epoch), so recordings look like real ones. */
export const SIM_EPOCH = 1_700_000_000;
/** The Kubernetes HPA's sync period. */
const HPA_PERIOD_SECONDS = 15;

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
  private readonly hpaWindow: number[] = [];
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
      this.hpa = new HpaScaler(policy.hpa);
    } else initial = policy.replicas;
    // Knative's rule: through the activator when at zero or when excess burst capacity is negative.
    const autoscaler = this.autoscaler;
    const viaActivator = autoscaler ? (ready: number) => ready === 0 || autoscaler.excessBurstCapacity < 0 : () => false;
    // The revision starts deployed: its initial pods are ready at t = 0.
    this.model = new ServingModel(revision, rng, arrivalRng, viaActivator, scenario.duration, initial);
  }

  run(): PolicyReport {
    const onSecond = this.options.onSecond;
    // For the charts: the latencies completed each second (the model's histogram, observed), and failures per second.
    const latenciesMs: number[] = [];
    if (onSecond) {
      const histogram = this.model.latency;
      const record = histogram.record.bind(histogram);
      histogram.record = (v: number) => {
        record(v);
        latenciesMs.push(v);
      };
    }
    // HOOK (rejections over time): when the serving model counts rejected requests (a `rejected` total), the charts get them per second.
    const rejectedTotal = (): number | null => {
      const n = (this.model as unknown as { rejected?: unknown }).rejected;
      return typeof n === 'number' ? n : null;
    };
    let failedBefore = this.model.failed;
    let rejectedBefore = rejectedTotal() ?? 0;
    for (let t = 1; t <= this.scenario.duration; t++) {
      const second = this.model.closeSecond(t);
      if (this.autoscaler) this.kpaSecond(t, second);
      else if (this.hpa) this.hpaSecond(t, second);
      const latest = this.autoscaler?.lastResult;
      const decision = latest?.valid ? latest : null;
      if (decision?.panic) this.panicSeconds++;
      if (!onSecond) continue;
      const rejected = rejectedTotal();
      onSecond({
        t, revision: this.revision.name, policy: this.policy.name, arrivals: second.arrivals, inFlight: second.inFlight,
        readyPods: second.readyPods.length, desiredPods: this.model.targetReplicas, stableValue: decision?.stableValue ?? null,
        panicValue: decision?.panicValue ?? null, panic: decision?.panic ?? false, activatorQueue: second.activatorQueue,
      }, { latenciesMs, failed: this.model.failed - failedBefore, rejected: rejected === null ? null : rejected - rejectedBefore });
      failedBefore = this.model.failed;
      if (rejected !== null) rejectedBefore = rejected;
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
    const out = this.scaler!.step({
      now: at, desiredScale: autoscaler.desiredScale, readyPods: autoscaler.readyPods,
      currentReplicas: this.model.targetReplicas, activatorInPath: true, // the simulated activator is always there to buffer
    });
    if (out.replicas !== null) this.model.setReplicas(out.replicas, t);
  }

  private hpaSecond(t: number, second: SecondStats): void {
    if (this.policy.kind !== 'hpa') return;
    const policy = this.policy.hpa;
    const ready = Math.max(1, second.readyPods.length);
    const perPod = policy.metric === 'utilization'
      ? (second.busySeconds * 100) / ready
      : second.podStats.reduce((s, p) => s + p.averageConcurrentRequests, 0) / ready;
    this.hpaWindow.push(perPod);
    if (this.hpaWindow.length > HPA_PERIOD_SECONDS) this.hpaWindow.shift();
    if (t % HPA_PERIOD_SECONDS !== 0) return;
    const metric = this.hpaWindow.reduce((a, b) => a + b, 0) / this.hpaWindow.length;
    this.model.setReplicas(this.hpa!.step(t, this.model.targetReplicas, metric, policy.target), t);
  }

  private report(): PolicyReport {
    const m = this.model;
    const duration = this.scenario.duration;
    const round = (x: number, d = 3) => Number(x.toFixed(d));
    return {
      revision: this.revision.name,
      policy: this.policy.name,
      requests: { total: m.total, completed: m.completed, failed: m.failed, coldStarts: m.coldStarts },
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
