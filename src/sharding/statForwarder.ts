import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { RevisionKey } from '../metrics/revisionKey.js';
import type { RevisionStat } from '../metrics/wireStats.js';
import { ipOfHolder } from './holderIdentity.js';

/** A connection to another replica's stat server (StatSender): send() hands a batch over or says it could not. */
export interface ForwardSink {
  send(stats: readonly RevisionStat[]): boolean;
  close(): Promise<void>;
}

/** Why a stat never reached its revision's owner. */
export type ForwardDropReason = 'no-owner' | 'buffer-full' | 'not-owner';
export const FORWARD_DROP_REASONS: readonly ForwardDropReason[] = ['no-owner', 'buffer-full', 'not-owner'];

export interface StatForwarderOptions {
  /** The bucket a revision belongs to. */
  bucketOf: (key: RevisionKey) => string;
  /** The live holder identity (`POD_NAME_POD_IP`) of a bucket's Lease; '' while nobody holds it. */
  holderOf: (bucket: string) => string;
  /** This replica's holder identity. */
  self: string;
  /** This replica's service, for the stats of the revisions it owns. */
  recordLocally: (stats: readonly RevisionStat[]) => void;
  /** Opens a connection to the owner at `ip` (a StatSender to ws://IP:STATS_PORT/). */
  connect: (ip: string) => ForwardSink;
  clock: Clock;
  logger: Logger;
  /** How long a stat waits for its bucket to get an owner (default 3 s): later than that it would land in the wrong second anyway. */
  maxWaitSeconds?: number;
  /** Stats waiting for an owner at most (default 50,000); past it new ones are dropped. */
  maxWaiting?: number;
  /** How often waiting stats are tried again (default 100 ms). */
  retryMs?: number;
}

/** Counters, exported as kpa_stats_forwarded_total and kpa_stats_forward_dropped_total{reason}. */
export interface ForwarderCounters {
  forwarded: number;
  dropped: Record<ForwardDropReason, number>;
}

interface Waiting {
  stat: RevisionStat;
  since: number;
  /** Arrived from another replica: recorded here if this replica becomes the owner, never forwarded again. */
  forwarded: boolean;
}

/**
 * Knative's statforwarder: every replica accepts activator stats; a stat for
 * a revision owned by another replica goes to that owner, over one websocket
 * per owner (its IP from the bucket Lease's holder identity), batched per turn
 * of the event loop. While a bucket has no owner (a handover) its stats wait,
 * briefly and within a bound, and are then dropped and counted: never queued
 * without limit. Stats another replica forwarded here are recorded only if
 * this replica owns the revision (no second hop, so no loop).
 */
export class StatForwarder {
  readonly counters: ForwarderCounters = { forwarded: 0, dropped: { 'no-owner': 0, 'buffer-full': 0, 'not-owner': 0 } };
  private readonly o: Required<Pick<StatForwarderOptions, 'maxWaitSeconds' | 'maxWaiting' | 'retryMs'>> & StatForwarderOptions;
  private readonly sinks = new Map<string, ForwardSink>();
  /** Batches to send at the end of this turn, by owner IP. */
  private readonly outgoing = new Map<string, RevisionStat[]>();
  private flushQueued = false;
  private waiting: Waiting[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastDropLogAt = -Infinity;

  constructor(options: StatForwarderOptions) {
    this.o = { maxWaitSeconds: 3, maxWaiting: 50_000, retryMs: 100, ...options };
  }

  /** Stats waiting for an owner right now. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** The stat server's stats: recorded here, sent to their owners, or held until an owner is known. */
  route(stats: readonly RevisionStat[], forwarded: boolean): void {
    if (this.closed) return;
    const local: RevisionStat[] = [];
    for (const s of stats) this.place(s, forwarded, local, true);
    if (local.length > 0) this.o.recordLocally(local);
  }

  /** Where one stat goes now; false when it has to wait (and `mayWait` put it in the waiting list). */
  private place(s: RevisionStat, forwarded: boolean, local: RevisionStat[], mayWait: boolean): boolean {
    const holder = this.o.holderOf(this.o.bucketOf(s.key));
    if (holder === this.o.self) {
      local.push(s);
      return true;
    }
    if (holder !== '' && forwarded) {
      // Another replica thought this one owned it; the owner it names now is not ours to send to.
      this.drop('not-owner', 1);
      return true;
    }
    const ip = holder === '' ? '' : ipOfHolder(holder);
    if (ip !== '') {
      let batch = this.outgoing.get(ip);
      if (!batch) this.outgoing.set(ip, (batch = []));
      batch.push(s);
      this.queueFlush();
      return true;
    }
    if (mayWait) this.wait([{ stat: s, since: this.o.clock.now(), forwarded }]);
    return false;
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  /** Sends each owner's batch as one frame; a batch its connection cannot take now waits. */
  private flush(): void {
    this.flushQueued = false;
    if (this.closed) return;
    const now = this.o.clock.now();
    for (const [ip, batch] of this.outgoing) {
      let sink = this.sinks.get(ip);
      if (!sink) this.sinks.set(ip, (sink = this.o.connect(ip)));
      if (sink.send(batch)) this.counters.forwarded += batch.length;
      else this.wait(batch.map((stat) => ({ stat, since: now, forwarded: false })));
    }
    this.outgoing.clear();
  }

  private wait(items: Waiting[]): void {
    const room = this.o.maxWaiting - this.waiting.length;
    if (room < items.length) this.drop('buffer-full', items.length - Math.max(0, room));
    if (room > 0) this.waiting.push(...items.slice(0, room));
    if (this.retryTimer === null && this.waiting.length > 0) {
      this.retryTimer = setTimeout(() => this.retryWaiting(), this.o.retryMs);
    }
  }

  /** Tries the waiting stats again: those whose bucket has an owner now go to it; those waiting too long are dropped. */
  private retryWaiting(): void {
    this.retryTimer = null;
    if (this.closed) return;
    const now = this.o.clock.now();
    const still: Waiting[] = [];
    const local: RevisionStat[] = [];
    let expired = 0;
    for (const w of this.waiting) {
      if (now - w.since > this.o.maxWaitSeconds) expired++;
      else if (!this.place(w.stat, w.forwarded, local, false)) still.push(w);
    }
    this.waiting = still;
    if (expired > 0) this.drop('no-owner', expired);
    if (local.length > 0) this.o.recordLocally(local);
    if (still.length > 0) this.retryTimer = setTimeout(() => this.retryWaiting(), this.o.retryMs);
  }

  /** Closes the connections to replicas that hold no bucket any more. */
  closeUnused(holders: Iterable<string>): void {
    const live = new Set([...holders].map(ipOfHolder));
    for (const [ip, sink] of this.sinks) {
      if (live.has(ip)) continue;
      this.sinks.delete(ip);
      void sink.close();
    }
  }

  private drop(reason: ForwardDropReason, n: number): void {
    this.counters.dropped[reason] += n;
    const now = this.o.clock.now();
    if (now - this.lastDropLogAt < 60) return;
    this.lastDropLogAt = now;
    this.o.logger.warn({ reason, droppedSoFar: this.counters.dropped }, reason === 'no-owner'
      ? `stats dropped: their bucket had no owner for ${this.o.maxWaitSeconds} s (a handover, or no replica can take it)`
      : reason === 'buffer-full' ? `stats dropped: ${this.o.maxWaiting} already wait for an owner`
        : 'stats dropped: forwarded here by a replica that took this one for their owner');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.waiting = [];
    await Promise.all([...this.sinks.values()].map((s) => s.close()));
    this.sinks.clear();
  }
}
