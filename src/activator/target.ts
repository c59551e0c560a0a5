import type { RevisionKey } from '../metrics/revisionKey.js';
import { assignSlice, byCodeUnits, type PeerView, UNKNOWN_PEERS, validPeerView } from './peers.js';
import { type PeriodStats, RequestStats } from './requestStats.js';

/** Where a target's pods listen: a pod IP and the container port (or a static URL's host and port). */
export interface EndpointAddress {
  host: string;
  port: number;
  /** Whether it may take requests (EndpointSlice `ready`, or the static prober's last connect). */
  ready: boolean;
}

/** "host:port", with IPv6 hosts in brackets: an endpoint's identity and its origin. */
export function endpointId(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** One endpoint of a target and the requests this activator has on it. */
export class Endpoint {
  readonly id: string;
  /** Requests forwarded here and not finished yet. */
  inFlight = 0;
  ready: boolean;
  /** False once the endpoint left the target; requests still on it finish, no new ones come. */
  member = true;

  constructor(readonly host: string, readonly port: number, ready: boolean) {
    this.id = endpointId({ host, port });
    this.ready = ready;
  }
}

/**
 * A request waiting for an endpoint, as a node of the target's queue (an
 * intrusive doubly linked list, so a timeout or a client that goes away
 * leaves the queue in O(1) and nothing cancelled stays behind).
 */
export class Waiter {
  /** @internal */ prev: Waiter | null = null;
  /** @internal */ next: Waiter | null = null;
  /** @internal */ queued = false;

  constructor(
    readonly grant: (endpoint: Endpoint) => void,
    /** Answers the request without an endpoint (shutdown, the target removed). */
    readonly refuse: (status: number, message: string) => void,
    readonly heldSince: number,
  ) {}
}

export interface TargetSpec {
  key: RevisionKey;
  /**
   * The most requests one endpoint gets from this activator; 0 = no limit (least-loaded balancing).
   * With peers known, this activator uses only its share of the endpoints, so that the replicas
   * together keep to it too (see setPeers).
   */
  containerConcurrency: number;
  /** The most requests waiting for an endpoint; past it a request is refused. */
  maxHeld: number;
}

/**
 * One routed Deployment (a revision, in Knative's words): its endpoints, the
 * requests waiting for one, and its load. The request path's core, as
 * Knative's throttler: with containerConcurrency > 0 an endpoint never gets
 * more than that many requests from this activator, the rest wait in one FIFO
 * queue per target and take the first slot that frees; with 0 each request
 * goes to the least-loaded ready endpoint. With no ready endpoint every
 * request waits. With several activator replicas (setPeers) and a limit,
 * each uses only its share of the ready endpoints, as Knative's throttler
 * assigns pod trackers to activators. Pure: no timers, no sockets; the
 * proxy calls in.
 */
export class Target {
  spec: TargetSpec;
  readonly stats: RequestStats;
  /** Responses by status code (the activator's own 404/502/503/504 included), for /metrics. */
  readonly responses = new Map<number, number>();
  /** Failed upstream attempts by reason (a retried one counts too), for /metrics. */
  readonly upstreamErrors = new Map<string, number>();
  private readonly byId = new Map<string, Endpoint>();
  /** Ready endpoints, sorted by id: the same order on every activator replica. */
  private ready: Endpoint[] = [];
  /** This activator's share of the ready endpoints, the ones acquire() picks from. */
  private assigned: Endpoint[] = [];
  private peers: PeerView = UNKNOWN_PEERS;
  /** Where the least-loaded scan starts, rotated so that ties spread over endpoints. */
  private cursor = 0;
  private head: Waiter | null = null;
  private tail: Waiter | null = null;
  private waiting = 0;
  /** Guards dispatch against re-entry from a grant that fails synchronously and releases. */
  private dispatching = false;
  /** No request arrived or was in flight over the last whole period (Knative's reporter forgets the revision then). */
  private idle = true;
  /** The first request after an idle period was already reported on its own; the next period's report subtracts it. */
  private firstAdjustment = 0;

  constructor(spec: TargetSpec, now: number) {
    this.spec = spec;
    this.stats = new RequestStats(now);
  }

  get key(): RevisionKey {
    return this.spec.key;
  }

  /** Requests waiting for an endpoint. */
  get held(): number {
    return this.waiting;
  }

  /** Every ready endpoint, this activator's share or not. */
  get readyEndpoints(): readonly Endpoint[] {
    return this.ready;
  }

  /** The ready endpoints this activator sends requests to: its share with peers and a limit, else all. */
  get assignedEndpoints(): readonly Endpoint[] {
    return this.assigned;
  }

  get peerView(): PeerView {
    return this.peers;
  }

  /** Endpoints of the target, ready or not. */
  get endpointCount(): number {
    return this.byId.size;
  }

  get endpoints(): IterableIterator<Endpoint> {
    return this.byId.values();
  }

  /**
   * Counts a request in. Returns true for the first request after an idle
   * period: as Knative's activator does, it is reported at once (concurrency
   * 1, one request), so that kpa pokes a target at zero into a decision
   * instead of waiting for the next tick.
   */
  arrive(now: number): boolean {
    this.stats.arrive(now);
    if (!this.idle) return false;
    this.idle = false;
    this.firstAdjustment = 1;
    return true;
  }

  depart(now: number): void {
    this.stats.depart(now);
  }

  /** Closes the reporting period: its load, less what the immediate first-request report already counted. */
  report(now: number): PeriodStats {
    const period = this.stats.report(now);
    const adjustment = this.firstAdjustment;
    this.firstAdjustment = 0;
    if (period.averageConcurrency === 0 && this.stats.concurrency === 0) this.idle = true;
    return {
      averageConcurrency: Math.max(period.averageConcurrency - adjustment, 0),
      requestCount: Math.max(period.requestCount - adjustment, 0),
    };
  }

  countResponse(status: number): void {
    this.responses.set(status, (this.responses.get(status) ?? 0) + 1);
  }

  countUpstreamError(reason: string): void {
    this.upstreamErrors.set(reason, (this.upstreamErrors.get(reason) ?? 0) + 1);
  }

  /**
   * A new spec (a changed annotation): a raised limit may let waiting requests go at once, and a
   * limit set or lifted changes which endpoints are this activator's.
   */
  update(spec: TargetSpec): void {
    this.spec = spec;
    this.refreshAssigned();
  }

  /**
   * This activator is `selfIndex` of `count` replicas (-1: unknown). The
   * share is recomputed at once, as Knative's throttler does on an activator
   * count update: requests in flight on an endpoint that left the share
   * finish there, waiting ones go to the new share.
   */
  setPeers(selfIndex: number, count: number): void {
    const view = { selfIndex, count };
    if (!validPeerView(view)) throw new RangeError(`peer index ${selfIndex} of ${count} activators: want -1 (unknown) or 0 ≤ index < count`);
    this.peers = view;
    this.refreshAssigned();
  }

  /**
   * Makes `addresses` the target's endpoints. Existing ones keep their
   * in-flight count; the ones that left are returned so their connections can
   * be closed once idle. Waiting requests go to newly ready endpoints at once.
   */
  setEndpoints(addresses: readonly EndpointAddress[]): Endpoint[] {
    const next = new Map<string, Endpoint>();
    for (const a of addresses) {
      const id = endpointId(a);
      if (next.has(id)) continue;
      const existing = this.byId.get(id);
      if (existing) existing.ready = a.ready;
      next.set(id, existing ?? new Endpoint(a.host, a.port, a.ready));
    }
    const removed: Endpoint[] = [];
    for (const [id, e] of this.byId) {
      if (!next.has(id)) {
        e.member = false;
        e.ready = false;
        removed.push(e);
      }
    }
    this.byId.clear();
    for (const [id, e] of next) this.byId.set(id, e);
    this.refreshReady();
    return removed;
  }

  /** The prober's verdict on one endpoint, or a connect that just failed. */
  setReady(endpoint: Endpoint, ready: boolean): void {
    if (!endpoint.member || endpoint.ready === ready) return;
    endpoint.ready = ready;
    this.refreshReady();
  }

  private refreshReady(): void {
    this.ready = [...this.byId.values()].filter((e) => e.ready).sort((a, b) => byCodeUnits(a.id, b.id));
    this.refreshAssigned();
  }

  /**
   * Knative's updateCapacity: with a limit, this activator's slice of the
   * sorted ready endpoints (assignSlice); with none (cc 0) every endpoint,
   * as Knative assigns every pod tracker when containerConcurrency is 0: there
   * is no limit for the replicas to split.
   */
  private refreshAssigned(): void {
    const { selfIndex, count } = this.peers;
    this.assigned = this.spec.containerConcurrency > 0 ? assignSlice(this.ready, selfIndex, count) : this.ready;
    if (this.cursor >= this.assigned.length) this.cursor = 0;
    this.dispatch();
  }

  /**
   * Takes a slot on the least-loaded assigned endpoint that has one, preferring
   * endpoints not in `avoid` (those a retried request already failed on).
   * Returns null when every endpoint is at its limit or none is ready.
   */
  acquire(avoid?: ReadonlySet<Endpoint>): Endpoint | null {
    const n = this.assigned.length;
    if (n === 0) return null;
    const cc = this.spec.containerConcurrency;
    let best: Endpoint | null = null;
    let bestAvoided: Endpoint | null = null;
    for (let i = 0; i < n; i++) {
      const e = this.assigned[(this.cursor + i) % n];
      if (cc > 0 && e.inFlight >= cc) continue;
      if (avoid?.has(e)) {
        if (bestAvoided === null || e.inFlight < bestAvoided.inFlight) bestAvoided = e;
      } else if (best === null || e.inFlight < best.inFlight) {
        best = e;
        if (e.inFlight === 0) break;
      }
    }
    const chosen = best ?? bestAvoided;
    if (chosen === null) return null;
    this.cursor = (this.cursor + 1) % n;
    chosen.inFlight++;
    return chosen;
  }

  /** A request is done with its endpoint: the slot goes to the next waiting request. */
  release(endpoint: Endpoint): void {
    endpoint.inFlight--;
    this.dispatch();
  }

  /**
   * Queues a request until an endpoint has a slot for it. `front` puts it
   * ahead of the others (a retry, which arrived before them). Returns false,
   * queueing nothing, when the queue is full.
   */
  hold(waiter: Waiter, front = false): boolean {
    if (this.waiting >= this.spec.maxHeld) return false;
    waiter.queued = true;
    if (front) {
      waiter.next = this.head;
      if (this.head) this.head.prev = waiter;
      else this.tail = waiter;
      this.head = waiter;
    } else {
      waiter.prev = this.tail;
      if (this.tail) this.tail.next = waiter;
      else this.head = waiter;
      this.tail = waiter;
    }
    this.waiting++;
    return true;
  }

  /** Takes a waiting request out of the queue (it timed out, or its client went away). */
  cancel(waiter: Waiter): void {
    if (!waiter.queued) return;
    waiter.queued = false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.tail = waiter.prev;
    waiter.prev = null;
    waiter.next = null;
    this.waiting--;
  }

  /** Every waiting request, oldest first, removed from the queue (to be refused). */
  drainQueue(): Waiter[] {
    const all: Waiter[] = [];
    while (this.head) {
      const w = this.head;
      this.cancel(w);
      all.push(w);
    }
    return all;
  }

  /** Hands free slots to waiting requests in arrival order. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.head) {
        const endpoint = this.acquire();
        if (!endpoint) break;
        const w = this.head;
        this.cancel(w);
        w.grant(endpoint);
      }
    } finally {
      this.dispatching = false;
    }
  }
}
