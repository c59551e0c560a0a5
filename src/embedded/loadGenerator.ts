import { Agent, type ClientRequest, request } from 'node:http';
import type { Clock } from '../clock.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import type { ArrivalSource } from '../sim/workload.js';
import { DEMO_HOST } from './demoDeployment.js';
import { POD_READY_AT_HEADER } from './demoPod.js';

/** Where one request goes: a port on 127.0.0.1 and the Host header it carries. */
export interface LoadRoute {
  port: number;
  host: string;
}

export interface LoadStream {
  key: RevisionKey;
  /** Arrival times in seconds from the start. */
  arrivals: ArrivalSource;
  /** Where the next request goes; null when it has nowhere to go (no ready pod and no activator: it fails, as at an ingress). */
  route: () => LoadRoute | null;
}

/** What a revision's clients saw. */
export interface TrafficCounts {
  /** Requests sent (dropped arrivals not included). */
  requests: number;
  /** Answered 2xx. */
  completed: number;
  /** Answered otherwise, cut off, or with nowhere to go. */
  failed: number;
  /** Arrivals not sent: too many in flight already, or the generator fell behind by more than a few seconds. */
  dropped: number;
  /** Requests answered by a pod that started listening after they were sent: they waited for a cold start. */
  coldStarts: number;
  inFlight: number;
}

export interface LoadGeneratorOptions {
  clock: Clock;
  /** Requests of one revision in flight at once; arrivals past it are dropped (default 2,000). */
  maxInFlight?: number;
  /** Connections of one revision's clients (default 1,024); requests past it wait in the client for a connection. */
  maxSockets?: number;
}

/** Arrivals later than this (a stalled event loop, a laptop waking up) are dropped rather than sent in one burst. */
const MAX_LAG_SECONDS = 5;
/** How often due arrivals are sent: a request leaves at most this late. */
const TICK_MS = 10;

interface Stream {
  spec: LoadStream;
  counts: TrafficCounts;
  next: number;
  agent: Agent;
}

/**
 * The demo's clients: per revision a Poisson process (or a trace) of real
 * HTTP GETs, through the activator or straight to a pod, over keep-alive
 * connections. In-flight requests are bounded, so a scenario whose rate the
 * demo cannot serve costs dropped arrivals, not memory.
 */
export class LoadGenerator {
  private readonly streams: Stream[];
  private readonly live = new Set<ClientRequest>();
  private readonly maxInFlight: number;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private closed = false;

  constructor(streams: readonly LoadStream[], private readonly o: LoadGeneratorOptions) {
    this.maxInFlight = o.maxInFlight ?? 2000;
    this.streams = streams.map((spec) => ({
      spec,
      counts: { requests: 0, completed: 0, failed: 0, dropped: 0, coldStarts: 0, inFlight: 0 },
      next: spec.arrivals.next(),
      // The idle timeout is shorter than the servers' keep-alive, so the client is the one that closes an idle connection.
      agent: new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 1024, timeout: 30_000, scheduling: 'lifo' }),
    }));
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.startedAt = this.o.clock.now();
    this.timer = setInterval(() => this.sendDue(), TICK_MS);
  }

  counts(key: RevisionKey): TrafficCounts | undefined {
    const s = this.streams.find((x) => x.spec.key.namespace === key.namespace && x.spec.key.name === key.name);
    return s ? { ...s.counts } : undefined;
  }

  /** Stops sending and cuts every request in flight. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const req of this.live) req.destroy();
    this.live.clear();
    for (const s of this.streams) s.agent.destroy();
  }

  private sendDue(): void {
    const elapsed = this.o.clock.now() - this.startedAt;
    for (const s of this.streams) {
      while (s.next <= elapsed) {
        if (elapsed - s.next > MAX_LAG_SECONDS) s.counts.dropped++;
        else this.send(s);
        s.next = s.spec.arrivals.next();
      }
    }
  }

  private send(s: Stream): void {
    const c = s.counts;
    if (c.inFlight >= this.maxInFlight) {
      c.dropped++;
      return;
    }
    c.requests++;
    const route = s.spec.route();
    if (!route) {
      c.failed++;
      return;
    }
    c.inFlight++;
    const sentAt = this.o.clock.now();
    let done = false;
    const finish = (ok: boolean, coldStart: boolean): void => {
      if (done) return;
      done = true;
      this.live.delete(req);
      c.inFlight--;
      if (this.closed) return;
      if (ok) c.completed++;
      else c.failed++;
      if (coldStart) c.coldStarts++;
    };
    const req = request({ host: DEMO_HOST, port: route.port, path: '/', headers: { host: route.host }, agent: s.agent }, (res) => {
      const readyAt = Number(res.headers[POD_READY_AT_HEADER]) / 1000;
      res.resume();
      res.once('close', () => finish(res.complete && res.statusCode !== undefined && res.statusCode < 300, readyAt > sentAt));
    });
    req.once('error', () => finish(false, false));
    req.end();
    this.live.add(req);
  }
}
