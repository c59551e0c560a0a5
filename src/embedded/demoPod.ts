import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { RequestStats } from '../activator/requestStats.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { emptyStat, type Stat } from '../metrics/stat.js';
import { ConcurrencyGate } from './concurrencyGate.js';

/** The pod that answered, on every response (so a client can tell which pod served it). */
export const POD_HEADER = 'x-demo-pod';
/** When the pod that answered started listening (Unix milliseconds): a later time than the request's means it waited for a cold start. */
export const POD_READY_AT_HEADER = 'x-demo-pod-ready-at';

/**
 * pending: created, waiting for a free port (every slot is taken by a pod
 * still terminating); starting: scheduled and cold-starting; ready:
 * listening; terminating: no longer listening, finishing its requests;
 * closed: gone, its port free again.
 */
export type PodPhase = 'pending' | 'starting' | 'ready' | 'terminating' | 'closed';

export interface DemoPodOptions {
  name: string;
  host: string;
  /** The most requests in service at once; 0 = no limit. */
  containerConcurrency: number;
  /** A request's service time in seconds (sampled per request). */
  serviceTime: () => number;
  /** Seconds a terminating pod may take to finish its requests; then they are cut. */
  terminationGracePeriod: number;
  clock: Clock;
  logger: Logger;
  /** Called after each phase change. */
  onPhase: (pod: DemoPod) => void;
}

/** One request inside the pod: waiting for a slot under the concurrency limit, or in service. */
class PodRequest {
  timer: NodeJS.Timeout | null = null;
  serving = false;
  constructor(readonly res: ServerResponse) {}
}

/** How long a pod whose port is taken (by another process, for a moment) waits before it tries again. */
const PORT_RETRY_MS = 250;

/**
 * A demo app pod: a real HTTP server on one of its revision's reserved
 * ports. It listens only once its cold start is over, answers each request
 * after a sampled service time, keeps at most containerConcurrency requests
 * in service (the rest wait in arrival order inside the pod, as behind
 * queue-proxy), and on termination stops listening at once and lets its
 * requests finish within the grace period. It counts its load as
 * queue-proxy does, for the revisions kpa scrapes.
 */
export class DemoPod {
  phase: PodPhase = 'pending';
  port = 0;
  /** When it started listening (clock seconds); NaN before. */
  readyAt = Number.NaN;
  /** Requests in the pod, waiting or in service. */
  inFlight = 0;
  /** queue-proxy's stat for the last whole second, once one has been taken. */
  lastSecond: Stat | null = null;
  /** Resolves once the pod listens, or closes without having listened. */
  readonly started: Promise<void>;
  private resolveStarted!: () => void;
  private readonly server: Server;
  private readonly gate: ConcurrencyGate<PodRequest>;
  private stats: RequestStats | null = null;
  private startTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private portTakenLogged = false;
  private listened = false;
  private readonly serverClosed: Promise<void>;

  constructor(private readonly o: DemoPodOptions) {
    this.gate = new ConcurrencyGate(o.containerConcurrency);
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    // Longer than the clients' idle timeouts, so a client never reuses a connection the pod is just closing.
    this.server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.request(req, res));
    this.serverClosed = new Promise((resolve) => this.server.once('close', () => resolve()));
  }

  get name(): string {
    return this.o.name;
  }

  /** Scheduled on `port`: listens after `delaySeconds` (scheduling delay and cold start; 0 = already running). */
  schedule(port: number, delaySeconds: number): void {
    if (this.phase !== 'pending') return;
    this.port = port;
    this.setPhase('starting');
    if (delaySeconds <= 0) this.listen();
    else this.startTimer = setTimeout(() => this.listen(), delaySeconds * 1000);
  }

  /** Scaled down: stops listening at once; its requests finish within the grace period. */
  terminate(): void {
    switch (this.phase) {
      case 'pending':
      case 'starting':
        this.clearStartTimer();
        this.server.close();
        this.finish();
        return;
      case 'ready':
        this.server.close(); // also closes idle keep-alive connections
        this.setPhase('terminating');
        if (this.inFlight === 0) return this.finish();
        this.graceTimer = setTimeout(() => {
          if (this.inFlight > 0) this.o.logger.debug({ pod: this.name, cut: this.inFlight }, 'termination grace period over: requests cut');
          this.finish();
        }, this.o.terminationGracePeriod * 1000);
        return;
      default:
    }
  }

  /** Closes everything now (the demo is stopping). */
  async destroy(): Promise<void> {
    if (this.phase !== 'closed') {
      this.clearStartTimer();
      this.server.close();
      this.finish();
    }
    if (this.listened) await this.serverClosed;
  }

  /** Closes queue-proxy's reporting second: the time-averaged concurrency and the requests of the second. */
  closeSecond(now: number): Stat {
    const stat = emptyStat(this.name);
    if (this.stats) {
      const period = this.stats.report(now);
      stat.averageConcurrentRequests = period.averageConcurrency;
      stat.requestCount = period.requestCount;
      stat.processUptime = Math.max(0, now - this.readyAt);
    }
    this.lastSecond = stat;
    return stat;
  }

  /** What queue-proxy serves for a scrape: the last second's stat, zeros before the first; null once the pod is gone. */
  queueProxyStat(): Stat | null {
    if (this.phase !== 'ready' && this.phase !== 'terminating') return null;
    return this.lastSecond ?? emptyStat(this.name);
  }

  private listen(): void {
    this.startTimer = null;
    if (this.phase !== 'starting') return;
    const onError = (err: NodeJS.ErrnoException): void => {
      this.server.off('listening', onListening);
      if (this.phase !== 'starting') return;
      if (!this.portTakenLogged) {
        this.portTakenLogged = true;
        this.o.logger.warn({ pod: this.name, port: this.port, err: err.message }, 'demo pod cannot listen on its port yet; retrying');
      }
      this.startTimer = setTimeout(() => this.listen(), PORT_RETRY_MS);
    };
    const onListening = (): void => {
      this.server.off('error', onError);
      this.listened = true;
      if (this.phase !== 'starting') return void this.server.close(); // terminated meanwhile
      const now = this.o.clock.now();
      this.readyAt = now;
      this.stats = new RequestStats(now);
      this.setPhase('ready');
      this.resolveStarted();
    };
    this.server.once('error', onError);
    this.server.once('listening', onListening);
    this.server.listen(this.port, this.o.host);
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // the demo app ignores request bodies
    this.inFlight++;
    this.stats?.arrive(this.o.clock.now());
    const r = new PodRequest(res);
    res.once('close', () => this.done(r));
    if (this.gate.enter(r)) this.serve(r);
  }

  private serve(r: PodRequest): void {
    r.serving = true;
    r.timer = setTimeout(() => this.respond(r), Math.max(0, this.o.serviceTime() * 1000));
  }

  private respond(r: PodRequest): void {
    r.timer = null;
    const headers: OutgoingHttpHeaders = {
      'content-type': 'text/plain; charset=utf-8',
      [POD_HEADER]: this.name,
      [POD_READY_AT_HEADER]: String(Math.round(this.readyAt * 1000)),
    };
    // A terminating pod closes each connection after its response: the next request must go to a pod that listens.
    if (this.phase !== 'ready') headers.connection = 'close';
    r.res.writeHead(200, headers).end(`hello from ${this.name}\n`);
  }

  /** A request left the pod: answered, or its client went away (or the pod was cut off). */
  private done(r: PodRequest): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    this.inFlight--;
    this.stats?.depart(this.o.clock.now());
    if (r.serving) {
      const next = this.gate.leave();
      if (next && this.phase !== 'closed') this.serve(next);
    } else this.gate.cancel(r);
    if (this.phase === 'terminating' && this.inFlight === 0) this.finish();
  }

  private finish(): void {
    if (this.phase === 'closed') return;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.setPhase('closed');
    this.server.closeAllConnections();
    this.resolveStarted();
  }

  private clearStartTimer(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
  }

  private setPhase(phase: PodPhase): void {
    this.phase = phase;
    this.o.onPhase(this);
  }
}
