import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { sampler, type Sampler } from '../sim/distribution.js';
import type { Random } from '../sim/random.js';
import type { DemoRevisionPlan } from './demoLayout.js';
import { DemoPod } from './demoPod.js';

export const DEMO_HOST = '127.0.0.1';

export interface DemoDeploymentOptions {
  plan: DemoRevisionPlan;
  /** The revision's reserved ports, one per slot. */
  ports: readonly number[];
  /** Cold starts and service times of this revision's pods. */
  rng: Random;
  clock: Clock;
  logger: Logger;
  /** A pod started or stopped listening (or went away): the ready pods changed. */
  onChange: (deployment: DemoDeployment) => void;
}

/**
 * A demo revision's Deployment: the pods the autoscaler asked for, each on
 * one of the revision's ports. A new pod takes a free port, waits its
 * scheduling delay and cold start and then listens; when every port is
 * still held by a terminating pod, it stays pending until one frees, as a
 * pod waits for room on a node. Scaling down removes the newest pods first.
 */
export class DemoDeployment {
  /** Pods not closed yet, oldest first. */
  private readonly pods: DemoPod[] = [];
  private readonly freePorts: number[];
  /** Pending pods in creation order, waiting for a port. */
  private readonly waiting: DemoPod[] = [];
  private readonly portOf = new Map<DemoPod, number>();
  private created = 0;
  private readonly serviceTime: Sampler;
  private readonly coldStart: Sampler;
  private readonly schedulingDelay: Sampler;
  /** Where the least-loaded scan starts, rotated so that ties spread over pods. */
  private cursor = 0;
  private closed = false;
  private capLogged = false;

  constructor(private readonly o: DemoDeploymentOptions) {
    this.freePorts = [...o.ports];
    const r = o.plan.revision;
    this.serviceTime = sampler(r.serviceTime);
    this.coldStart = sampler(r.pod.coldStart);
    this.schedulingDelay = sampler(r.pod.schedulingDelay);
  }

  get plan(): DemoRevisionPlan {
    return this.o.plan;
  }

  /** Every port a pod of this revision may listen on. */
  get ports(): readonly number[] {
    return this.o.ports;
  }

  /** Pods created and not terminating: the Deployment's replicas. */
  get replicas(): number {
    let n = 0;
    for (const pod of this.pods) if (pod.phase !== 'terminating') n++;
    return n;
  }

  readyPods(): DemoPod[] {
    return this.pods.filter((p) => p.phase === 'ready');
  }

  /** Pods that serve requests: ready ones, and terminating ones finishing theirs. */
  servingPods(): DemoPod[] {
    return this.pods.filter((p) => p.phase === 'ready' || p.phase === 'terminating');
  }

  pod(name: string): DemoPod | undefined {
    return this.pods.find((p) => p.name === name);
  }

  /** The revision's initial pods, already running when the demo begins (no cold start); resolves once they listen. */
  async start(initial: number): Promise<void> {
    const pods: DemoPod[] = [];
    for (let i = 0; i < Math.min(initial, this.o.ports.length); i++) pods.push(this.create(0));
    await Promise.all(pods.map((p) => p.started));
  }

  /** Sets the replicas (at most one per port): new pods cold-start, the newest go first on the way down. */
  scale(replicas: number): void {
    if (this.closed) return;
    const slots = this.o.ports.length;
    if (replicas > slots && !this.capLogged) {
      this.capLogged = true;
      this.o.logger.warn({ namespace: this.o.plan.revision.namespace, revision: this.o.plan.revision.name, replicas, slots }, `the demo has ${slots} ports for this revision's pods: replicas capped at ${slots}`);
    }
    const want = Math.min(Math.max(0, replicas), slots);
    const live = this.pods.filter((p) => p.phase !== 'terminating');
    for (let i = live.length; i < want; i++) this.create();
    for (const pod of live.slice(want).reverse()) {
      const w = this.waiting.indexOf(pod);
      if (w >= 0) this.waiting.splice(w, 1);
      pod.terminate();
    }
  }

  /**
   * The least-loaded ready pod, for requests that do not go through the
   * activator (an ingress balancing over the ready endpoints); null when
   * none is ready.
   */
  pick(): DemoPod | null {
    const ready = this.readyPods();
    const n = ready.length;
    if (n === 0) return null;
    let best: DemoPod | null = null;
    for (let i = 0; i < n; i++) {
      const pod = ready[(this.cursor + i) % n];
      if (!best || pod.inFlight < best.inFlight) best = pod;
      if (pod.inFlight === 0) break;
    }
    this.cursor = (this.cursor + 1) % n;
    return best;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiting.length = 0;
    await Promise.all([...this.pods].map((p) => p.destroy()));
  }

  private create(delaySeconds?: number): DemoPod {
    const r = this.o.plan.revision;
    const pod: DemoPod = new DemoPod({
      name: `${r.name}-${++this.created}`,
      host: DEMO_HOST,
      containerConcurrency: r.settings.containerConcurrency ?? 0,
      serviceTime: () => this.serviceTime(this.o.rng),
      terminationGracePeriod: r.pod.terminationGracePeriod,
      clock: this.o.clock,
      logger: this.o.logger,
      onPhase: (p) => this.phaseChanged(p),
    });
    this.pods.push(pod);
    const port = this.freePorts.shift();
    if (port === undefined) this.waiting.push(pod);
    else this.place(pod, port, delaySeconds);
    return pod;
  }

  private place(pod: DemoPod, port: number, delaySeconds?: number): void {
    this.portOf.set(pod, port);
    const delay = delaySeconds ?? this.schedulingDelay(this.o.rng) + this.coldStart(this.o.rng);
    pod.schedule(port, delay);
  }

  private phaseChanged(pod: DemoPod): void {
    if (pod.phase === 'ready') this.o.logger.debug({ pod: pod.name, port: pod.port }, 'demo pod ready');
    if (pod.phase === 'closed') {
      const i = this.pods.indexOf(pod);
      if (i >= 0) this.pods.splice(i, 1);
      const port = this.portOf.get(pod);
      this.portOf.delete(pod);
      if (port !== undefined && !this.closed) {
        const next = this.waiting.shift();
        if (next) this.place(next, port);
        else this.freePorts.push(port);
      }
    }
    if (!this.closed && (pod.phase === 'ready' || pod.phase === 'terminating' || pod.phase === 'closed')) this.o.onChange(this);
  }
}
