import { emptyStat, type Stat } from '../metrics/stat.js';
import { sampler, type Sampler } from './distribution.js';
import { EventQueue } from './eventQueue.js';
import { LogHistogram } from './histogram.js';
import type { Random } from './random.js';
import type { SimRevision } from './scenario.js';
import { type ArrivalSource, arrivals } from './workload.js';

interface Request {
  arrival: number;
  /** Whether it went through the activator (its stats are "proxied"). */
  proxied: boolean;
}

/** A pod of the model: starting (cold start), ready, or draining after a scale-down. */
export interface ModelPod {
  readonly name: string;
  state: 'starting' | 'ready' | 'draining';
  readonly startedAt: number;
  /** When it became ready (Infinity while starting). */
  readyAt: number;
  inService: number;
  proxiedInService: number;
  /** Integrals over the current second, for queue-proxy's averages. */
  area: number;
  proxiedArea: number;
  busyArea: number;
  lastChange: number;
  requests: number;
  proxiedRequests: number;
}

type ModelEvent = { kind: 'done'; pod: ModelPod; req: Request } | { kind: 'ready'; pod: ModelPod } | { kind: 'drainDeadline'; pod: ModelPod };

/** What the pods and the activator report for one second. */
export interface SecondStats {
  readyPods: ModelPod[];
  podStats: Stat[];
  /** The activator's own stat: what passed through it. */
  activatorStat: Stat;
  arrivals: number;
  inFlight: number;
  activatorQueue: number;
  /** Seconds the ready pods spent serving at least one request, summed (CPU-like utilization). */
  busySeconds: number;
}

/**
 * The serving side of a revision — arrivals, pods with cold starts and a
 * concurrency limit, graceful draining, the activator's buffer — in seconds
 * from the start. The simulator's policies (KPA, HPA, fixed) read its
 * per-second stats and set its replicas.
 * Requests are not kept once done, so memory stays flat.
 */
export class ServingModel {
  private readonly events = new EventQueue<ModelEvent>();
  readonly pods: ModelPod[] = [];
  private readonly waiting: Request[] = [];
  private waitingHead = 0;
  /** Waiting requests that did not come through the activator: queued at the pods' queue-proxies. */
  private directWaiting = 0;
  private podCounter = 0;
  private readonly source: ArrivalSource;
  private nextArrival: number;
  private readonly serviceTime: Sampler;
  private readonly coldStart: Sampler;
  private readonly schedulingDelay: Sampler;
  private readonly cc: number;
  // Accounting.
  readonly latency = new LogHistogram();
  readonly queueing = new LogHistogram();
  total = 0;
  completed = 0;
  failed = 0;
  /** Requests that waited for a pod to start: served by a pod that became ready after they arrived. */
  coldStarts = 0;
  podSeconds = 0;
  podsMax = 0;
  scaleEvents = 0;
  inFlight = 0;
  inFlightArea = 0;
  private lastInFlightChange = 0;
  private arrivalsThisSecond = 0;
  private activatorArrivals = 0;
  private activatorArea = 0;
  private activatorProxiedInFlight = 0;
  private lastActivatorChange = 0;
  targetReplicas = 0;

  constructor(
    private readonly revision: SimRevision,
    /** Service times and cold starts. */
    private readonly rng: Random,
    /** Arrivals: a stream of its own, so every policy sees the same workload. */
    arrivalRng: Random,
    /** Whether new requests go through the activator (Knative: at zero, or excess burst capacity < 0). */
    private readonly activatorInPath: (readyPods: number) => boolean,
    duration = Infinity,
    initialReadyPods = 0,
  ) {
    this.serviceTime = sampler(revision.serviceTime);
    this.coldStart = sampler(revision.pod.coldStart);
    this.schedulingDelay = sampler(revision.pod.schedulingDelay);
    this.cc = revision.settings.containerConcurrency ?? 0;
    this.source = arrivals(revision.workload, duration, arrivalRng);
    this.nextArrival = this.source.next();
    for (let i = 0; i < initialReadyPods; i++) this.addPod(0, true);
    this.targetReplicas = initialReadyPods;
  }

  /** Processes every arrival and event before `t`. */
  runUntil(t: number): void {
    for (;;) {
      const te = this.events.peekTime();
      const next = Math.min(te, this.nextArrival);
      if (next >= t) return;
      if (te <= this.nextArrival) this.handle(this.events.pop()!, te);
      else {
        this.arrive(this.nextArrival);
        this.nextArrival = this.source.next();
      }
    }
  }

  readyCount(): number {
    let n = 0;
    for (const pod of this.pods) if (pod.state === 'ready') n++;
    return n;
  }

  // --- time-weighted accounting -------------------------------------------------

  private touchPod(pod: ModelPod, t: number): void {
    const dt = t - pod.lastChange;
    if (dt > 0) {
      const share = pod.state === 'ready' && this.directWaiting > 0 ? this.directWaiting / this.readyCount() : 0;
      pod.area += dt * (pod.inService + share);
      pod.proxiedArea += dt * pod.proxiedInService;
      if (pod.inService > 0) pod.busyArea += dt;
      pod.lastChange = t;
    }
  }

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

  // --- requests -----------------------------------------------------------------

  private arrive(t: number): void {
    this.touchAll(t);
    this.total++;
    this.arrivalsThisSecond++;
    this.inFlight++;
    const ready = this.readyCount();
    const req: Request = { arrival: t, proxied: this.activatorInPath(ready) };
    if (req.proxied) this.activatorArrivals++;
    const pod = this.podWithCapacity();
    if (pod) this.start(pod, req, t);
    else {
      this.waiting.push(req);
      if (!req.proxied) this.directWaiting++;
    }
  }

  /** The least-loaded ready pod below its concurrency limit. */
  private podWithCapacity(): ModelPod | null {
    let best: ModelPod | null = null;
    for (const pod of this.pods) {
      if (pod.state !== 'ready' || (this.cc > 0 && pod.inService >= this.cc)) continue;
      if (!best || pod.inService < best.inService) best = pod;
    }
    return best;
  }

  private start(pod: ModelPod, req: Request, t: number): void {
    this.touchPod(pod, t);
    pod.inService++;
    pod.requests++;
    if (req.proxied) {
      pod.proxiedInService++;
      pod.proxiedRequests++;
      this.activatorProxiedInFlight++;
    }
    this.queueing.record((t - req.arrival) * 1000);
    if (pod.readyAt > req.arrival) this.coldStarts++;
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

  private handle(ev: ModelEvent, t: number): void {
    this.touchAll(t);
    const pod = ev.pod;
    switch (ev.kind) {
      case 'done':
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
      case 'ready':
        if (pod.state === 'starting') {
          pod.state = 'ready';
          pod.readyAt = t;
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
    const pod: ModelPod = {
      name: `${this.revision.name}-${++this.podCounter}`, state: readyNow ? 'ready' : 'starting', startedAt: t, readyAt: readyNow ? t : Infinity,
      inService: 0, proxiedInService: 0, area: 0, proxiedArea: 0, busyArea: 0, lastChange: t, requests: 0, proxiedRequests: 0,
    };
    this.pods.push(pod);
    if (!readyNow) this.events.push(t + this.schedulingDelay(this.rng) + this.coldStart(this.rng), { kind: 'ready', pod });
  }

  private removePod(pod: ModelPod): void {
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
  }

  /** Sets the replicas: new pods cold-start, removed ones (starting first, then the idlest) drain. */
  setReplicas(n: number, t: number): void {
    this.touchAll(t);
    if (n !== this.targetReplicas) this.scaleEvents++;
    this.targetReplicas = n;
    const live = this.pods.filter((p) => p.state !== 'draining');
    for (let i = live.length; i < n; i++) this.addPod(t, false);
    if (live.length <= n) return;
    const starting = (p: ModelPod) => (p.state === 'starting' ? 0 : 1);
    const victims = live.sort((a, b) => starting(a) - starting(b) || a.inService - b.inService || b.startedAt - a.startedAt).slice(0, live.length - n);
    for (const pod of victims) {
      if (pod.state === 'starting' || pod.inService === 0) {
        this.removePod(pod);
        continue;
      }
      pod.state = 'draining';
      this.events.push(t + this.revision.pod.terminationGracePeriod, { kind: 'drainDeadline', pod });
    }
    this.dispatchWaiting(t);
  }

  /**
   * Closes the second ending at `t`: requests that waited too long in the
   * activator fail, and each ready pod's queue-proxy stat and the activator's
   * stat for the second are returned (then the counters start over).
   */
  closeSecond(t: number): SecondStats {
    this.runUntil(t);
    this.touchAll(t);
    while (this.waitingHead < this.waiting.length && t - this.waiting[this.waitingHead].arrival > this.revision.activatorTimeout) {
      const req = this.waiting[this.waitingHead++];
      if (!req.proxied) this.directWaiting--;
      this.failed++;
      this.inFlight--;
    }
    this.compactWaiting();
    this.podSeconds += this.pods.length;
    if (this.pods.length > this.podsMax) this.podsMax = this.pods.length;
    const readyPods = this.pods.filter((p) => p.state === 'ready');
    const podStats = readyPods.map((pod) => {
      const stat = emptyStat(pod.name);
      stat.averageConcurrentRequests = pod.area;
      stat.averageProxiedConcurrentRequests = pod.proxiedArea;
      stat.requestCount = pod.requests;
      stat.proxiedRequestCount = pod.proxiedRequests;
      stat.processUptime = t - pod.startedAt;
      return stat;
    });
    // The activator reports what passes through it; the pods report the same requests as
    // "proxied", which the collector subtracts, so nothing is counted twice.
    const activatorStat = emptyStat('activator');
    activatorStat.averageConcurrentRequests = this.activatorArea;
    activatorStat.requestCount = this.activatorArrivals;
    const second: SecondStats = {
      readyPods, podStats, activatorStat, arrivals: this.arrivalsThisSecond, inFlight: this.inFlight,
      activatorQueue: this.waiting.length - this.waitingHead - this.directWaiting,
      busySeconds: readyPods.reduce((sum, p) => sum + p.busyArea, 0),
    };
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
    return second;
  }
}
