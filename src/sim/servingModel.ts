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

/** A FIFO of requests with O(1) push and shift. */
class Fifo {
  private items: Request[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(req: Request): void {
    this.items.push(req);
  }

  peek(): Request {
    return this.items[this.head];
  }

  shift(): Request {
    const req = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return req;
  }
}

/** A pod of the model: starting (cold start), ready, or draining after a scale-down. */
export interface ModelPod {
  readonly name: string;
  state: 'starting' | 'ready' | 'draining';
  readonly startedAt: number;
  /** When it became ready (Infinity while starting). */
  readyAt: number;
  /** Requests being served (they share the pod's cores). */
  inService: number;
  proxiedInService: number;
  /** Requests waiting in its queue-proxy's breaker for a containerConcurrency slot. */
  readonly queue: Fifo;
  /** Integrals over the current second, for queue-proxy's averages. */
  area: number;
  proxiedArea: number;
  /** CPU used over the current second, in units of the pod's cores (HPA's utilization). */
  busyArea: number;
  lastChange: number;
  requests: number;
  proxiedRequests: number;
  // Processor sharing: each request in service is given `virtual` seconds of work per
  // request since the pod started; a request finishes when `virtual` reaches its tag.
  /** Requests in service by finish tag (virtual time at which each is done). */
  readonly service: EventQueue<Request>;
  virtual: number;
  /** Real time at which `virtual` was last brought up to date. */
  virtualAt: number;
  /** The completion event in the queue: its version, rate and tag (stale events are skipped). */
  version: number;
  scheduledRate: number;
  scheduledTag: number;
  /** Position in the ready list, or -1. */
  readyPos: number;
  /** Free-slot level (= inService, when ready and below containerConcurrency) and position in it, or -1. */
  level: number;
  levelPos: number;
  removed: boolean;
}

type ModelEvent = { kind: 'done'; pod: ModelPod; version: number } | { kind: 'ready'; pod: ModelPod } | { kind: 'drainDeadline'; pod: ModelPod };

/** What the pods and the activator report for one second. */
export interface SecondStats {
  readyPods: ModelPod[];
  podStats: Stat[];
  /** The activator's own stat: what passed through it. */
  activatorStat: Stat;
  arrivals: number;
  inFlight: number;
  activatorQueue: number;
  /** CPU the ready pods used, in pod-seconds of their cores summed (1 = one pod's cores busy for the second). */
  busySeconds: number;
}

/**
 * The serving side of a revision — arrivals, pods with cold starts, cores
 * shared by the requests in service (processor sharing) and a concurrency
 * limit with queue-proxy's bounded queue, graceful draining, the activator's
 * buffer, and the ingress routing to pods when the activator is out of the
 * path — in seconds from the start. The simulator's policies (KPA, HPA,
 * fixed) read its per-second stats, set its replicas and say whether the
 * activator is in the path (see docs/simulation-model.md).
 * Requests are not kept once done, so memory stays flat; no event costs more
 * with more pods.
 */
export class ServingModel {
  private readonly events = new EventQueue<ModelEvent>();
  /** Every pod, in creation order (older first). */
  readonly pods: ModelPod[] = [];
  /** Ready pods, in no particular order (swap-removal). */
  private readonly ready: ModelPod[] = [];
  /** Ready pods below containerConcurrency, by requests in service (cc > 0 only). */
  private readonly levels: ModelPod[][];
  /** No level below this one has a pod. */
  private lowestLevel = 0;
  private roundRobin = 0;
  /** Requests buffered in the activator, waiting for a pod with a free slot. */
  private readonly buffered = new Fifo();
  private podCounter = 0;
  private readonly source: ArrivalSource;
  private nextArrival: number;
  private readonly serviceTime: Sampler;
  private readonly coldStart: Sampler;
  private readonly schedulingDelay: Sampler;
  private readonly cc: number;
  private readonly cpu: number;
  private readonly podQueueDepth: number;
  private readonly activatorQueueDepth: number;
  private readonly roundRobinRouting: boolean;
  /**
   * Whether the activator is in the path while there are ready pods (Knative's
   * SKS proxy mode); with none, requests go through it regardless. Set by the policy.
   */
  activatorMode: boolean;
  // Accounting.
  readonly latency = new LogHistogram();
  /** Each completed request's end-to-end latency (ms), for the report's per-interval charts. */
  onLatency: ((ms: number) => void) | null = null;
  readonly queueing = new LogHistogram();
  total = 0;
  completed = 0;
  failed = 0;
  /** Answered 503: queue-proxy's queue or the activator's buffer was full. */
  rejected = 0;
  /** Requests that waited for a pod to start: served by a pod that became ready after they arrived. */
  coldStarts = 0;
  podSeconds = 0;
  podsMax = 0;
  scaleEvents = 0;
  inFlight = 0;
  inFlightArea = 0;
  private lastGlobalChange = 0;
  private arrivalsThisSecond = 0;
  private activatorArrivals = 0;
  private activatorArea = 0;
  private activatorProxiedInFlight = 0;
  targetReplicas = 0;

  constructor(
    private readonly revision: SimRevision,
    /** Service times, cold starts and routing. */
    private readonly rng: Random,
    /** Arrivals: a stream of its own, so every policy sees the same workload. */
    arrivalRng: Random,
    /** Whether the activator starts in the path (Knative's SKS proxy mode). */
    activatorMode: boolean,
    duration = Infinity,
    initialReadyPods = 0,
  ) {
    this.serviceTime = sampler(revision.serviceTime);
    this.coldStart = sampler(revision.pod.coldStart);
    this.schedulingDelay = sampler(revision.pod.schedulingDelay);
    this.cc = revision.settings.containerConcurrency ?? 0;
    this.cpu = revision.pod.cpu;
    this.podQueueDepth = revision.pod.queueDepth;
    this.activatorQueueDepth = revision.activatorQueueDepth;
    this.roundRobinRouting = revision.routing === 'round-robin';
    this.levels = Array.from({ length: this.cc }, () => []);
    this.activatorMode = activatorMode;
    this.source = arrivals(revision.workload, duration, arrivalRng);
    this.nextArrival = this.source.next();
    for (let i = 0; i < initialReadyPods; i++) this.addPod(0, true);
    this.targetReplicas = initialReadyPods;
  }

  /** Processes every arrival and event before `t`. */
  runUntil(t: number): void {
    for (;;) {
      const te = this.events.peekTime();
      const next = te < this.nextArrival ? te : this.nextArrival;
      if (next >= t) return;
      if (te <= this.nextArrival) this.handle(this.events.pop()!, te);
      else {
        this.arrive(this.nextArrival);
        this.nextArrival = this.source.next();
      }
    }
  }

  readyCount(): number {
    return this.ready.length;
  }

  /** Whether new requests go through the activator: in proxy mode, or with no ready pod (the SKS's rule). */
  activatorInPath(): boolean {
    return this.activatorMode || this.ready.length === 0;
  }

  // --- time-weighted accounting: each pod on its own changes, the rest in O(1) ----

  private touchPod(pod: ModelPod, t: number): void {
    const dt = t - pod.lastChange;
    if (dt > 0) {
      const n = pod.inService;
      pod.area += dt * (n + pod.queue.length);
      pod.proxiedArea += dt * pod.proxiedInService;
      if (n > 0) pod.busyArea += n < this.cpu ? (dt * n) / this.cpu : dt;
      pod.lastChange = t;
    }
  }

  private touchGlobal(t: number): void {
    const dt = t - this.lastGlobalChange;
    if (dt > 0) {
      this.activatorArea += dt * (this.buffered.length + this.activatorProxiedInFlight);
      this.inFlightArea += dt * this.inFlight;
      this.lastGlobalChange = t;
    }
  }

  // --- requests -----------------------------------------------------------------

  private arrive(t: number): void {
    this.touchGlobal(t);
    this.total++;
    this.arrivalsThisSecond++;
    if (this.activatorMode || this.ready.length === 0) {
      // The activator: straight on to a pod with a free slot, else into its buffer.
      this.activatorArrivals++;
      const req: Request = { arrival: t, proxied: true };
      const pod = this.podForActivator();
      if (pod) {
        this.inFlight++;
        this.start(pod, req, t);
      } else if (this.buffered.length < this.activatorQueueDepth) {
        this.inFlight++;
        this.buffered.push(req);
      } else this.rejected++;
      return;
    }
    // The ingress picks a ready pod; its queue-proxy serves, queues, or answers 503.
    const n = this.ready.length;
    const pod = this.roundRobinRouting ? this.ready[this.roundRobin++ % n] : this.ready[Math.floor(this.rng.next() * n)];
    if (this.roundRobin >= n) this.roundRobin = 0;
    const req: Request = { arrival: t, proxied: false };
    if (this.cc === 0 || pod.inService < this.cc) {
      this.inFlight++;
      this.start(pod, req, t);
    } else if (pod.queue.length < this.podQueueDepth) {
      this.touchPod(pod, t);
      this.inFlight++;
      pod.queue.push(req);
      pod.requests++;
    } else this.rejected++;
  }

  /**
   * Where the activator sends a request now: the least-loaded ready pod with a
   * free slot; without a limit (cc 0), the less loaded of two random ready pods.
   */
  private podForActivator(): ModelPod | null {
    const n = this.ready.length;
    if (n === 0) return null;
    if (this.cc === 0) {
      if (n === 1) return this.ready[0];
      const a = this.ready[Math.floor(this.rng.next() * n)];
      const b = this.ready[Math.floor(this.rng.next() * n)];
      return b.inService < a.inService ? b : a;
    }
    while (this.lowestLevel < this.cc && this.levels[this.lowestLevel].length === 0) this.lowestLevel++;
    if (this.lowestLevel === this.cc) return null;
    const level = this.levels[this.lowestLevel];
    return level[level.length - 1];
  }

  /** Puts a request in service at the pod (`queued`: it was in the pod's queue, so already counted there). */
  private start(pod: ModelPod, req: Request, t: number, queued = false): void {
    this.touchPod(pod, t);
    this.advance(pod, t);
    pod.service.push(pod.virtual + this.serviceTime(this.rng), req);
    pod.inService++;
    if (!queued) pod.requests++;
    if (req.proxied) {
      pod.proxiedInService++;
      pod.proxiedRequests++;
      this.activatorProxiedInFlight++;
    }
    this.queueing.record((t - req.arrival) * 1000);
    if (pod.readyAt > req.arrival) this.coldStarts++;
    this.relevel(pod);
    this.schedule(pod);
  }

  /** Brings the pod's virtual time up to `t`: each request in service got min(1, cpu / n) of a core. */
  private advance(pod: ModelPod, t: number): void {
    const n = pod.inService;
    if (n > 0) pod.virtual += (t - pod.virtualAt) * (n <= this.cpu ? 1 : this.cpu / n);
    pod.virtualAt = t;
  }

  /** (Re)schedules the pod's next completion if its rate or first tag changed; O(log n). */
  private schedule(pod: ModelPod): void {
    const n = pod.inService;
    if (n === 0) {
      if (pod.scheduledTag !== Infinity) {
        pod.version++;
        pod.scheduledTag = Infinity;
      }
      return;
    }
    const rate = n <= this.cpu ? 1 : this.cpu / n;
    const tag = pod.service.peekTime();
    if (rate === pod.scheduledRate && tag === pod.scheduledTag) return;
    pod.version++;
    pod.scheduledRate = rate;
    pod.scheduledTag = tag;
    const at = pod.virtualAt + Math.max(0, tag - pod.virtual) / rate;
    this.events.push(at, { kind: 'done', pod, version: pod.version });
  }

  private finish(pod: ModelPod, t: number): void {
    this.touchPod(pod, t);
    this.touchGlobal(t);
    pod.virtual = pod.service.peekTime(); // exact: this request's work is done
    pod.virtualAt = t;
    const req = pod.service.pop()!;
    pod.inService--;
    if (req.proxied) {
      pod.proxiedInService--;
      this.activatorProxiedInFlight--;
    }
    this.inFlight--;
    this.completed++;
    const latencyMs = (t - req.arrival) * 1000;
    this.latency.record(latencyMs);
    this.onLatency?.(latencyMs);
    // The freed slot goes to the pod's own queue first, then to the activator's buffer.
    if (pod.queue.length > 0) this.start(pod, pod.queue.shift(), t, true);
    else if (pod.state === 'draining') {
      if (pod.inService === 0) this.removePod(pod);
    } else {
      this.relevel(pod);
      this.dispatchBuffered(t);
    }
    if (!pod.removed) this.schedule(pod);
  }

  private dispatchBuffered(t: number): void {
    while (this.buffered.length > 0) {
      const pod = this.podForActivator();
      if (!pod) break;
      this.start(pod, this.buffered.shift(), t);
    }
  }

  private handle(ev: ModelEvent, t: number): void {
    const pod = ev.pod;
    switch (ev.kind) {
      case 'done':
        if (ev.version === pod.version && !pod.removed) this.finish(pod, t);
        break;
      case 'ready':
        if (pod.state === 'starting' && !pod.removed) {
          this.touchGlobal(t);
          pod.state = 'ready';
          pod.readyAt = t;
          pod.lastChange = t;
          pod.readyPos = this.ready.length;
          this.ready.push(pod);
          this.relevel(pod);
          this.dispatchBuffered(t);
        }
        break;
      case 'drainDeadline':
        if (pod.state === 'draining' && !pod.removed) {
          // Requests still running or queued when the grace period ends are cut off.
          this.touchGlobal(t);
          const cut = pod.inService + pod.queue.length;
          this.failed += cut;
          this.inFlight -= cut;
          this.activatorProxiedInFlight -= pod.proxiedInService;
          this.removePod(pod);
        }
        break;
    }
  }

  // --- pods ----------------------------------------------------------------------

  private addPod(t: number, readyNow: boolean): void {
    const pod: ModelPod = {
      name: `${this.revision.name}-${++this.podCounter}`, state: readyNow ? 'ready' : 'starting', startedAt: t, readyAt: readyNow ? t : Infinity,
      inService: 0, proxiedInService: 0, queue: new Fifo(), area: 0, proxiedArea: 0, busyArea: 0, lastChange: t, requests: 0, proxiedRequests: 0,
      service: new EventQueue<Request>(), virtual: 0, virtualAt: t, version: 0, scheduledRate: 0, scheduledTag: Infinity,
      readyPos: -1, level: -1, levelPos: -1, removed: false,
    };
    this.pods.push(pod);
    if (readyNow) {
      pod.readyPos = this.ready.length;
      this.ready.push(pod);
      this.relevel(pod);
    } else this.events.push(t + this.schedulingDelay(this.rng) + this.coldStart(this.rng), { kind: 'ready', pod });
  }

  /** Keeps the free-slot levels in step with the pod's state and requests in service. */
  private relevel(pod: ModelPod): void {
    if (this.cc === 0) return;
    const want = pod.state === 'ready' && !pod.removed && pod.inService < this.cc ? pod.inService : -1;
    if (want === pod.level) return;
    if (pod.level >= 0) {
      const level = this.levels[pod.level];
      const last = level.pop()!;
      if (last !== pod) {
        level[pod.levelPos] = last;
        last.levelPos = pod.levelPos;
      }
    }
    pod.level = want;
    if (want >= 0) {
      pod.levelPos = this.levels[want].length;
      this.levels[want].push(pod);
      if (want < this.lowestLevel) this.lowestLevel = want;
    }
  }

  private unready(pod: ModelPod): void {
    if (pod.readyPos < 0) return;
    const last = this.ready.pop()!;
    if (last !== pod) {
      this.ready[pod.readyPos] = last;
      last.readyPos = pod.readyPos;
    }
    pod.readyPos = -1;
  }

  private removePod(pod: ModelPod): void {
    pod.removed = true;
    pod.version++;
    this.unready(pod);
    this.relevel(pod);
    const i = this.pods.indexOf(pod);
    if (i >= 0) this.pods.splice(i, 1);
  }

  /** Sets the replicas: new pods cold-start, removed ones (starting first, then the idlest) drain. */
  setReplicas(n: number, t: number): void {
    if (n !== this.targetReplicas) this.scaleEvents++;
    this.targetReplicas = n;
    const live = this.pods.filter((p) => p.state !== 'draining');
    for (let i = live.length; i < n; i++) this.addPod(t, false);
    if (live.length <= n) return;
    const starting = (p: ModelPod) => (p.state === 'starting' ? 0 : 1);
    const load = (p: ModelPod) => p.inService + p.queue.length;
    const victims = live.sort((a, b) => starting(a) - starting(b) || load(a) - load(b) || b.startedAt - a.startedAt).slice(0, live.length - n);
    for (const pod of victims) {
      this.touchPod(pod, t);
      if (pod.state === 'starting' || load(pod) === 0) {
        this.removePod(pod);
        continue;
      }
      pod.state = 'draining';
      this.unready(pod);
      this.relevel(pod);
      this.events.push(t + this.revision.pod.terminationGracePeriod, { kind: 'drainDeadline', pod });
    }
  }

  /**
   * Closes the second ending at `t`: requests that waited too long (in the
   * activator or a queue-proxy) fail, and each ready pod's queue-proxy stat and
   * the activator's stat for the second are returned (then the counters start over).
   */
  closeSecond(t: number): SecondStats {
    this.runUntil(t);
    this.touchGlobal(t);
    const timeout = this.revision.activatorTimeout;
    while (this.buffered.length > 0 && t - this.buffered.peek().arrival > timeout) {
      this.buffered.shift();
      this.failed++;
      this.inFlight--;
    }
    for (const pod of this.pods) {
      this.touchPod(pod, t);
      while (pod.queue.length > 0 && t - pod.queue.peek().arrival > timeout) {
        pod.queue.shift();
        this.failed++;
        this.inFlight--;
      }
    }
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
      activatorQueue: this.buffered.length,
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
