import { resolveRevision } from '../config/revisionConfig.js';
import { type ScaleResult, TICK_INTERVAL_SECONDS } from '../decider/decider.js';
import { RevisionAutoscaler } from '../decider/multiScaler.js';
import { aggregateScrapedStats, sampleSize, scrapeOrder } from '../metrics/scrapeSampling.js';
import { emptyStat, type Stat } from '../metrics/stat.js';
import type { Recorder } from '../recording/recorder.js';
import { defaultHpaBehavior, HpaScaler } from '../scaler/hpa.js';
import { RevisionScaler, scalerSpecFor } from '../scaler/index.js';
import { sampler, type Sampler } from './distribution.js';
import { EventQueue } from './eventQueue.js';
import { LogHistogram } from './histogram.js';
import type { Random } from './random.js';
import type { PolicyReport, TimeseriesRow } from './report.js';
import type { PolicySpec, Scenario, SimRevision } from './scenario.js';
import { arrivals } from './workload.js';

/** Virtual time starts here (seconds since the epoch), so recordings look like real ones. */
export const SIM_EPOCH = 1_700_000_000;
/** The Kubernetes HPA's sync period. */
const HPA_PERIOD_SECONDS = 15;

interface Request {
  arrival: number;
  /** Whether it went through the activator (its stats are "proxied"). */
  proxied: boolean;
  /** It arrived while no pod was ready: it waits for a cold start. */
  coldStart: boolean;
}

interface Pod {
  name: string;
  state: 'starting' | 'ready' | 'draining';
  startedAt: number;
  inService: number;
  proxiedInService: number;
  /** Integrals over the current second, for queue-proxy's averages. */
  area: number;
  proxiedArea: number;
  busyArea: number;
  lastChange: number;
  requests: number;
  proxiedRequests: number;
  drainDeadline: number;
}

type SimEvent = { kind: 'done'; pod: Pod; req: Request } | { kind: 'ready'; pod: Pod } | { kind: 'drainDeadline'; pod: Pod };

export interface SimulateOptions {
  onSecond?: (row: TimeseriesRow) => void;
  /** Writes what the KPA engine sees, for `kpa replay` (KPA policies only). */
  recorder?: Recorder;
  /** Each KPA decision as the decider made it (at epoch seconds). */
  onDecision?: (t: number, result: ScaleResult) => void;
}

/**
 * One revision under one policy, in virtual time: Poisson or trace arrivals,
 * pods with cold starts, a concurrency limit and graceful draining, an
 * activator that buffers when no pod is ready or the excess burst capacity is
 * negative, queue-proxy stats each second sampled like the scraper does, and
 * the same collector, decider and scaler as the live service. Memory is flat
 * in the duration: requests are not kept once done.
 */
export class RevisionSimulation {
  private readonly events = new EventQueue<SimEvent>();
  private readonly pods: Pod[] = [];
  private readonly waiting: Request[] = [];
  private waitingHead = 0;
  private podCounter = 0;
  // Accounting.
  private readonly latency = new LogHistogram();
  private readonly queueing = new LogHistogram();
  private total = 0;
  private completed = 0;
  private failed = 0;
  private coldStarts = 0;
  private podSeconds = 0;
  private podsMax = 0;
  private scaleEvents = 0;
  private panicSeconds = 0;
  private inFlight = 0;
  private inFlightArea = 0;
  private lastInFlightChange = 0;
  private arrivalsThisSecond = 0;
  private activatorArrivals = 0;
  private activatorArea = 0;
  private activatorProxiedInFlight = 0;
  private lastActivatorChange = 0;
  private targetReplicas = 0;
  // Policy machinery.
  private readonly autoscaler: RevisionAutoscaler | null = null;
  private readonly scaler: RevisionScaler | null = null;
  private readonly hpa: HpaScaler | null = null;
  private readonly hpaWindow: number[] = [];
  private lastReady = -1;
  private readonly serviceTime: Sampler;
  private readonly coldStart: Sampler;
  private readonly schedulingDelay: Sampler;
  private readonly cc: number;
  private readonly stableWindow: number;

  constructor(
    private readonly scenario: Scenario,
    private readonly revision: SimRevision,
    private readonly policy: PolicySpec,
    /** Service times, cold starts, pod sampling: this policy's own stream. */
    private readonly rng: Random,
    /** Arrivals: the same stream for every policy of a revision, so they see the same workload. */
    private readonly arrivalRng: Random,
    private readonly options: SimulateOptions = {},
  ) {
    this.serviceTime = sampler(revision.serviceTime);
    this.coldStart = sampler(revision.pod.coldStart);
    this.schedulingDelay = sampler(revision.pod.schedulingDelay);
    this.cc = revision.settings.containerConcurrency ?? 0;
    const settings = policy.kind === 'kpa'
      ? { ...revision.settings, config: { ...revision.settings.config, ...policy.config }, annotations: { ...revision.settings.annotations, ...policy.annotations } }
      : revision.settings;
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
      this.hpa = new HpaScaler({ ...defaultHpaBehavior(policy.hpa.minReplicas, policy.hpa.maxReplicas), scaleDownStabilizationSeconds: policy.hpa.scaleDownStabilizationSeconds });
    } else initial = policy.replicas;
    // The revision starts deployed: its initial pods are ready at t = 0.
    for (let i = 0; i < initial; i++) this.addPod(0, true);
    this.targetReplicas = initial;
  }

  run(): PolicyReport {
    const duration = this.scenario.duration;
    const source = arrivals(this.revision.workload, duration, this.arrivalRng);
    let nextArrival = source.next();
    for (let second = 1; second <= duration; second++) {
      for (;;) {
        const te = this.events.peekTime();
        const t = Math.min(te, nextArrival);
        if (t >= second) break;
        if (te <= nextArrival) this.handle(this.events.pop()!, te);
        else {
          this.arrive(nextArrival);
          nextArrival = source.next();
        }
      }
      this.endOfSecond(second);
    }
    return this.report();
  }

  // --- time-weighted accounting -------------------------------------------------

  private touchPod(pod: Pod, t: number): void {
    const dt = t - pod.lastChange;
    if (dt > 0) {
      pod.area += dt * (pod.inService + this.waitingShare(pod));
      pod.proxiedArea += dt * pod.proxiedInService;
      if (pod.inService > 0) pod.busyArea += dt;
      pod.lastChange = t;
    }
  }

  /** Requests waiting without the activator are queued at the pods' queue-proxies: counted evenly. */
  private waitingShare(pod: Pod): number {
    if (pod.state !== 'ready' || this.directWaiting === 0) return 0;
    return this.directWaiting / this.readyCount();
  }

  private directWaiting = 0;

  private touchAll(t: number): void {
    for (const pod of this.pods) this.touchPod(pod, t);
    this.activatorArea += (t - this.lastActivatorChange) * this.activatorLoad();
    this.lastActivatorChange = t;
    this.inFlightArea += (t - this.lastInFlightChange) * this.inFlight;
    this.lastInFlightChange = t;
  }

  private activatorLoad(): number {
    return this.waiting.length - this.waitingHead - this.directWaiting + this.activatorProxiedInFlight;
  }

  private readyCount(): number {
    let n = 0;
    for (const pod of this.pods) if (pod.state === 'ready') n++;
    return n;
  }

  // --- requests -----------------------------------------------------------------

  /** Knative's rule: through the activator when at zero or when excess burst capacity is negative. */
  private activatorInPath(): boolean {
    if (!this.autoscaler) return false;
    return this.readyCount() === 0 || this.autoscaler.excessBurstCapacity < 0;
  }

  private arrive(t: number): void {
    this.touchAll(t);
    this.total++;
    this.arrivalsThisSecond++;
    this.inFlight++;
    const ready = this.readyCount();
    const proxied = this.activatorInPath();
    const req: Request = { arrival: t, proxied, coldStart: ready === 0 };
    if (proxied) this.activatorArrivals++;
    const pod = this.podWithCapacity();
    if (pod) this.start(pod, req, t);
    else {
      if (req.coldStart) this.coldStarts++;
      this.waiting.push(req);
      if (!proxied) this.directWaiting++;
    }
  }

  /** The least-loaded ready pod below its concurrency limit. */
  private podWithCapacity(): Pod | null {
    let best: Pod | null = null;
    for (const pod of this.pods) {
      if (pod.state !== 'ready' || (this.cc > 0 && pod.inService >= this.cc)) continue;
      if (!best || pod.inService < best.inService) best = pod;
    }
    return best;
  }

  private start(pod: Pod, req: Request, t: number): void {
    this.touchPod(pod, t);
    pod.inService++;
    pod.requests++;
    if (req.proxied) {
      pod.proxiedInService++;
      pod.proxiedRequests++;
      this.activatorProxiedInFlight++;
    }
    this.queueing.record((t - req.arrival) * 1000);
    this.events.push(t + this.serviceTime(this.rng), { kind: 'done', pod, req });
  }

  private dispatchWaiting(t: number): void {
    while (this.waitingHead < this.waiting.length) {
      const pod = this.podWithCapacity();
      if (!pod) break;
      const req = this.waiting[this.waitingHead++];
      if (!req.proxied) this.directWaiting--;
      this.start(pod, req, t);
    }
    this.compactWaiting();
  }

  private compactWaiting(): void {
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }

  private handle(ev: SimEvent, t: number): void {
    this.touchAll(t);
    const pod = ev.pod;
    switch (ev.kind) {
      case 'done': {
        pod.inService--;
        if (ev.req.proxied) {
          pod.proxiedInService--;
          this.activatorProxiedInFlight--;
        }
        this.inFlight--;
        this.completed++;
        this.latency.record((t - ev.req.arrival) * 1000);
        if (pod.state === 'draining') {
          if (pod.inService === 0) this.removePod(pod);
        } else this.dispatchWaiting(t);
        break;
      }
      case 'ready':
        if (pod.state === 'starting') {
          pod.state = 'ready';
          pod.lastChange = t;
          this.dispatchWaiting(t);
        }
        break;
      case 'drainDeadline':
        if (pod.state === 'draining' && this.pods.includes(pod)) {
          // Requests still running when the grace period ends are cut off.
          this.failed += pod.inService;
          this.inFlight -= pod.inService;
          this.activatorProxiedInFlight -= pod.proxiedInService;
          pod.inService = 0;
          this.removePod(pod);
        }
        break;
    }
  }

  // --- pods ----------------------------------------------------------------------

  private addPod(t: number, readyNow: boolean): void {
    const pod: Pod = {
      name: `${this.revision.name}-${++this.podCounter}`, state: readyNow ? 'ready' : 'starting', startedAt: t,
      inService: 0, proxiedInService: 0, area: 0, proxiedArea: 0, busyArea: 0, lastChange: t, requests: 0, proxiedRequests: 0, drainDeadline: 0,
    };
    this.pods.push(pod);
    if (!readyNow) this.events.push(t + this.schedulingDelay(this.rng) + this.coldStart(this.rng), { kind: 'ready', pod });
  }

  private removePod(pod: Pod): void {
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
  }

  /** Sets the replicas: new pods cold-start, removed ones (starting first, then idlest) drain. */
  private setReplicas(n: number, t: number): void {
    if (n !== this.targetReplicas) this.scaleEvents++;
    this.targetReplicas = n;
    const live = this.pods.filter((p) => p.state !== 'draining');
    for (let i = live.length; i < n; i++) this.addPod(t, false);
    if (live.length <= n) return;
    const victims = live.sort((a, b) => (a.state === 'starting' ? -1 : 0) - (b.state === 'starting' ? -1 : 0) || a.inService - b.inService || b.startedAt - a.startedAt)
      .slice(0, live.length - n);
    for (const pod of victims) {
      this.touchPod(pod, t);
      if (pod.state === 'starting' || pod.inService === 0) {
        this.removePod(pod);
        continue;
      }
      pod.state = 'draining';
      this.events.push(t + this.revision.pod.terminationGracePeriod, { kind: 'drainDeadline', pod });
    }
    this.dispatchWaiting(t);
  }

  // --- the autoscaler's view, once a second -----------------------------------------

  private endOfSecond(second: number): void {
    const t = second;
    this.touchAll(t);
    // Requests that waited in the activator too long fail.
    while (this.waitingHead < this.waiting.length && t - this.waiting[this.waitingHead].arrival > this.revision.activatorTimeout) {
      const req = this.waiting[this.waitingHead++];
      if (!req.proxied) this.directWaiting--;
      this.failed++;
      this.inFlight--;
    }
    this.compactWaiting();
    const ready = this.readyCount();
    this.podSeconds += this.pods.length;
    if (this.pods.length > this.podsMax) this.podsMax = this.pods.length;

    const podStats: { pod: Pod; stat: Stat }[] = [];
    for (const pod of this.pods) {
      if (pod.state === 'ready') {
        const stat = emptyStat(pod.name);
        stat.averageConcurrentRequests = pod.area;
        stat.averageProxiedConcurrentRequests = pod.proxiedArea;
        stat.requestCount = pod.requests;
        stat.proxiedRequestCount = pod.proxiedRequests;
        stat.processUptime = t - pod.startedAt;
        podStats.push({ pod, stat });
      }
    }
    // The activator reports what passes through it; the pods report the same requests as "proxied",
    // which the collector subtracts, so nothing is counted twice.
    const activatorStat = emptyStat('activator');
    activatorStat.averageConcurrentRequests = this.activatorArea;
    activatorStat.requestCount = this.activatorArrivals;

    if (this.autoscaler) this.kpaSecond(t, ready, podStats, activatorStat);
    else if (this.hpa) this.hpaSecond(t, ready, podStats);

    const latest = this.autoscaler?.lastResult;
    const decision = latest?.valid ? latest : null;
    if (decision?.panic) this.panicSeconds++;
    this.options.onSecond?.({
      t, revision: this.revision.name, policy: this.policy.name, arrivals: this.arrivalsThisSecond, inFlight: this.inFlight,
      readyPods: ready, desiredPods: this.targetReplicas, stableValue: decision?.stableValue ?? null, panicValue: decision?.panicValue ?? null,
      panic: decision?.panic ?? false, activatorQueue: this.waiting.length - this.waitingHead - this.directWaiting,
    });
    for (const pod of this.pods) {
      pod.area = 0;
      pod.proxiedArea = 0;
      pod.busyArea = 0;
      pod.requests = 0;
      pod.proxiedRequests = 0;
    }
    this.activatorArea = 0;
    this.activatorArrivals = 0;
    this.arrivalsThisSecond = 0;
  }

  private kpaSecond(t: number, ready: number, podStats: { pod: Pod; stat: Stat }[], activatorStat: Stat): void {
    const autoscaler = this.autoscaler!;
    const key = autoscaler.key;
    const at = SIM_EPOCH + t;
    if (ready !== this.lastReady) {
      this.lastReady = ready;
      autoscaler.readyPods = ready;
      this.options.recorder?.ready(at, key, ready);
    }
    let poke = false;
    if (podStats.length > 0 && autoscaler.resolved.metric.scraped) {
      // As the scraper: a sample of the ready pods, older ones first, scaled up to all of them.
      const order = scrapeOrder(podStats.map((p) => ({ name: p.pod.name, startedAt: p.pod.startedAt, stat: p.stat })), t, this.stableWindow, () => this.rng.next());
      const stat = aggregateScrapedStats(order.slice(0, sampleSize(podStats.length)).map((p) => p.stat), podStats.length);
      poke = this.record(at, stat) || poke;
    }
    if (activatorStat.requestCount > 0 || activatorStat.averageConcurrentRequests > 0) poke = this.record(at, activatorStat) || poke;
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
      currentReplicas: this.targetReplicas, activatorInPath: true, // the simulated activator is always there to buffer
    });
    if (out.replicas !== null) this.setReplicas(out.replicas, t);
  }

  private hpaSecond(t: number, ready: number, podStats: { pod: Pod; stat: Stat }[]): void {
    const policy = this.policy.kind === 'hpa' ? this.policy.hpa : null;
    if (!policy) return;
    const perPod = policy.metric === 'utilization'
      ? podStats.reduce((s, p) => s + p.pod.busyArea, 0) * 100 / Math.max(1, ready)
      : podStats.reduce((s, p) => s + p.stat.averageConcurrentRequests, 0) / Math.max(1, ready);
    this.hpaWindow.push(perPod);
    if (this.hpaWindow.length > HPA_PERIOD_SECONDS) this.hpaWindow.shift();
    if (t % HPA_PERIOD_SECONDS !== 0) return;
    const metric = this.hpaWindow.reduce((a, b) => a + b, 0) / this.hpaWindow.length;
    this.setReplicas(this.hpa!.step(t, this.targetReplicas, metric, policy.target), t);
  }

  private report(): PolicyReport {
    const duration = this.scenario.duration;
    const round = (x: number, d = 3) => Number(x.toFixed(d));
    return {
      revision: this.revision.name,
      policy: this.policy.name,
      requests: { total: this.total, completed: this.completed, failed: this.failed, coldStarts: this.coldStarts },
      latencyMs: {
        p50: round(this.latency.quantile(0.5)), p90: round(this.latency.quantile(0.9)), p99: round(this.latency.quantile(0.99)),
        max: round(this.latency.max), mean: round(this.latency.mean),
      },
      queueMs: { p50: round(this.queueing.quantile(0.5)), p99: round(this.queueing.quantile(0.99)), mean: round(this.queueing.mean) },
      podSeconds: this.podSeconds,
      pods: { max: this.podsMax, mean: round(this.podSeconds / duration) },
      scaleEvents: this.scaleEvents,
      timeInPanicS: this.panicSeconds,
      inFlightMean: round(this.inFlightArea / duration, 6),
      latencyHistogram: this.latency.buckets().map(([ms, n]) => [round(ms, 4), n]),
    };
  }
}
