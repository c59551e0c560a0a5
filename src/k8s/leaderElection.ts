import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { statusOf, withTimeout } from './retry.js';

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  leaseName: string;
  identity: string;
  clock: Clock;
  logger: Logger;
  /** Seconds (defaults 10, 7, 2): a follower takes over within `failoverBoundSeconds`, 15 s. */
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  onChange?: (leader: boolean) => void;
  /**
   * Asked before taking a Lease that is free (never before renewing one held):
   * a bucket replica over its fair share lets the others take it.
   */
  mayAcquire?: (freeForSeconds: number) => boolean;
  /** After each look at the Lease (every retry period), with what it showed. */
  onObserved?: () => void;
  /** For the acquire loop's jitter (tests pass a seeded one). */
  random?: () => number;
  /** A lease request failed (not the expected 404 of a missing Lease or 409 of a lost race). */
  onApiError?: (err: unknown) => void;
}

type OptionalHooks = 'onChange' | 'onApiError' | 'mayAcquire' | 'onObserved' | 'random';

/** Timings that keep failover within 15 s of the leader's loss (client-go's 15/10/2 would take up to 19 s). */
export const DEFAULT_LEASE_TIMING = { leaseDurationSeconds: 10, renewDeadlineSeconds: 7, retryPeriodSeconds: 2 } as const;

/**
 * The longest a follower can take to lead after the leader dies just after a
 * renewal: it sees that renewal up to a retry period late, waits a lease
 * duration from there, and acquires at its next attempt, up to a retry later.
 */
export function failoverBoundSeconds(t: { leaseDurationSeconds: number; retryPeriodSeconds: number } = DEFAULT_LEASE_TIMING): number {
  return t.leaseDurationSeconds + 2 * t.retryPeriodSeconds * (1 + ACQUIRE_JITTER);
}

/**
 * A replica that does not hold the Lease waits up to this much longer than a
 * retry period between looks (client-go jitters its acquire loop too): replicas
 * started together would otherwise look in the same order every period, and the
 * same one would win every free Lease.
 */
export const ACQUIRE_JITTER = 0.25;

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection: a follower takes the lease once it has seen the same
 * record for a whole lease duration (its own clock, not the holder's
 * timestamps, so clock skew does not matter); the leader renews every retry
 * period and steps down when it could not renew within the renew deadline.
 */
export class LeaderElector {
  private leader = false;
  private lastRenew = -Infinity;
  private observedRecord = '';
  private observedAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  /** Fires at the renew deadline unless a renewal resets it: a leader steps down even while a lease request hangs. */
  private deadline: NodeJS.Timeout | null = null;
  private running = false;
  /** The holder the Lease showed at the last look, while its record is live; '' when free or expired. */
  private liveHolder = '';
  /** When the Lease was first seen free (clock seconds); NaN while it is held. */
  private freeSince = NaN;
  /** Bumped by resign(): a renewal in flight from before it must not make this replica the holder again. */
  private generation = 0;
  /** The lease request in flight, which resign() lets land before it releases. */
  private attempt: Promise<void> = Promise.resolve();
  private readonly o: Required<Omit<LeaderElectionOptions, OptionalHooks>> & Pick<LeaderElectionOptions, OptionalHooks>;

  constructor(options: LeaderElectionOptions) {
    // `??` rather than a spread: an option passed as undefined must not erase its default.
    this.o = {
      ...options,
      leaseDurationSeconds: options.leaseDurationSeconds ?? DEFAULT_LEASE_TIMING.leaseDurationSeconds,
      renewDeadlineSeconds: options.renewDeadlineSeconds ?? DEFAULT_LEASE_TIMING.renewDeadlineSeconds,
      retryPeriodSeconds: options.retryPeriodSeconds ?? DEFAULT_LEASE_TIMING.retryPeriodSeconds,
    };
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /**
   * Who holds the Lease as this replica sees it: its holder identity while
   * the record is live (renewed within a lease duration, on this replica's
   * clock), '' when it is free, released or expired.
   */
  get holder(): string {
    return this.leader ? this.o.identity : this.liveHolder;
  }

  /** Seconds the Lease has been seen free (0 while held): past a bound, a replica takes it whatever its share. */
  freeForSeconds(): number {
    return Number.isNaN(this.freeSince) ? 0 : this.o.clock.now() - this.freeSince;
  }

  /**
   * Stops leading and releases the Lease at once, but goes on looking: a
   * bucket handed to a replica with fewer is taken by it at its next retry.
   */
  async resign(): Promise<void> {
    if (!this.leader) return;
    this.generation++;
    this.setLeader(false);
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    this.liveHolder = '';
    // A renewal already on its way would land after the release and name this replica again.
    await this.attempt.catch(() => undefined);
    await withTimeout(this.release(), this.o.renewDeadlineSeconds * 1000, 'lease release').catch((err: unknown) => {
      this.o.onApiError?.(err);
      this.o.logger.warn({ lease: this.o.leaseName, err: (err as Error).message }, 'leader election: releasing the lease failed; it expires instead');
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  /**
   * Stops; a leader releases the lease so a follower takes over at once
   * (`release: false` stops renewing without releasing, like a crash).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.deadline) clearTimeout(this.deadline);
    if (this.leader) {
      this.setLeader(false);
      // Bounded: a shutdown must not wait on an API server that does not answer (the Lease then expires).
      if (options.release !== false) await withTimeout(this.release(), this.o.renewDeadlineSeconds * 1000, 'lease release').catch(() => undefined);
    }
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    try {
      // Bounded like client-go's renew (a context with the renew deadline): a hung request must not stall the loop.
      this.attempt = withTimeout(this.tryAcquireOrRenew(), this.o.renewDeadlineSeconds * 1000, 'lease request');
      await this.attempt;
    } catch (err) {
      this.o.onApiError?.(err);
      this.o.logger.warn({ status: statusOf(err), err: (err as Error).message }, 'leader election: lease request failed');
    }
    this.checkRenewDeadline();
    if (this.running) this.o.onObserved?.();
    const wait = this.o.retryPeriodSeconds * 1000 * (this.leader ? 1 : 1 + ACQUIRE_JITTER * (this.o.random ?? Math.random)());
    if (this.running) this.timer = setTimeout(() => void this.loop(), wait);
  }

  /**
   * A leader that has not renewed within the renew deadline stops leading:
   * the deadline (10 s) is shorter than the lease (15 s), so it stops
   * actuating before any follower may take the lease.
   */
  private checkRenewDeadline(): void {
    if (this.leader && this.o.clock.now() - this.lastRenew >= this.o.renewDeadlineSeconds) {
      this.o.logger.warn('leader election: could not renew the lease within the renew deadline; stepping down');
      this.setLeader(false);
    }
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { api, namespace, leaseName: name, identity, clock } = this.o;
    const now = clock.now();
    const generation = this.generation;
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      this.liveHolder = '';
      if (Number.isNaN(this.freeSince)) this.freeSince = now;
      if (this.o.mayAcquire && !this.o.mayAcquire(now - this.freeSince)) return;
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.record(now, 0, now) } });
      this.renewed(now, generation);
      return;
    }
    const spec = lease.spec ?? {};
    const recordKey = `${spec.holderIdentity ?? ''}|${String(spec.renewTime ?? '')}|${spec.leaseTransitions ?? 0}`;
    if (recordKey !== this.observedRecord) {
      this.observedRecord = recordKey;
      this.observedAt = now;
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== identity && this.observedAt + (spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) > now) {
      this.liveHolder = holder;
      this.freeSince = NaN;
      if (this.leader) this.setLeader(false);
      return;
    }
    if (holder !== identity || !this.leader) {
      // Free, released, expired, or still naming this replica from before a restart: taking it is an acquisition.
      this.liveHolder = '';
      if (Number.isNaN(this.freeSince)) this.freeSince = now;
      if (this.o.mayAcquire && !this.o.mayAcquire(now - this.freeSince)) return;
    }
    const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const acquired = holder === identity && spec.acquireTime ? new Date(spec.acquireTime).getTime() / 1000 : now;
    try {
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: this.record(now, transitions, acquired) } });
    } catch (err) {
      if (statusOf(err) === 409) return; // someone else wrote it first; look again next period
      throw err;
    }
    this.renewed(now, generation);
  }

  private record(now: number, transitions: number, acquired: number) {
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.o.leaseDurationSeconds,
      acquireTime: new Date(acquired * 1000),
      renewTime: new Date(now * 1000),
      leaseTransitions: transitions,
    };
  }

  private renewed(now: number, generation: number): void {
    if (!this.running || generation !== this.generation) return; // stopped or resigned while the request was in flight
    this.lastRenew = now;
    this.freeSince = NaN;
    this.liveHolder = this.o.identity;
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.checkRenewDeadline(), this.o.renewDeadlineSeconds * 1000);
    if (!this.leader) this.setLeader(true);
  }

  private setLeader(leader: boolean): void {
    this.leader = leader;
    this.o.logger.info({ identity: this.o.identity, lease: this.o.leaseName }, leader ? `leader election: now holds ${this.o.leaseName}` : `leader election: no longer holds ${this.o.leaseName}`);
    this.o.onChange?.(leader);
  }

  private async release(): Promise<void> {
    const { api, namespace, leaseName: name, identity } = this.o;
    const lease = await api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
  }
}
