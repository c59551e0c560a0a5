import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { DEFAULT_LEASE_TIMING, LeaderElector } from './leaderElection.js';
import { statusOf, withTimeout } from './retry.js';
import { podNameOfHolder } from '../sharding/holderIdentity.js';

/** The label on the replicas' membership Leases, valued with the bucket prefix: replicas of one kpa find each other by it. */
export const MEMBER_LABEL = 'kpa.dev/replica-of';

export interface BucketElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  /** `POD_NAME_POD_IP`, as Knative's bucket leases name their holders: other replicas forward stats to that IP. */
  identity: string;
  /** The bucket names (bucketNames()); each is campaigned for on a Lease of the same name, unless `leaseNameOf` says otherwise. */
  buckets: readonly string[];
  /** The Lease of a bucket (default: the bucket's name). One bucket keeps kpa 0.2's `kpa-leader`, so an upgrade never has two actors. */
  leaseNameOf?: (bucket: string) => string;
  /** Names this replica's membership Lease and finds the others' (default 'kpa'). */
  prefix?: string;
  clock: Clock;
  logger: Logger;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  /** The buckets this replica holds changed (called synchronously, before a released Lease is written). */
  onChange?: (held: ReadonlySet<string>) => void;
  onApiError?: (err: unknown) => void;
}

/** What one member Lease showed, and when this replica first saw it so (its own clock, as client-go's elector). */
interface Observed {
  holder: string;
  record: string;
  seenAt: number;
  durationSeconds: number;
}

/**
 * Knative's bucketed leader election (one Lease per bucket, every replica
 * campaigning), with a fair share so that replicas split the buckets instead
 * of the first one up taking them all: each replica renews a membership Lease
 * (`<prefix>-replica-<pod>`), and with R live members a replica takes a free
 * bucket only while it holds fewer than its share (N/R, the remainder going
 * to the lowest identities), and hands one over (releases it at once) while
 * it holds more and another member holds less than its own share. A bucket
 * free for two retry periods is taken by anyone, whatever their share, so a
 * membership view that lags never leaves a bucket without an owner.
 */
export class BucketElection {
  private readonly electors = new Map<string, LeaderElector>();
  private readonly held = new Set<string>();
  /** Buckets whose acquisition is on its way. */
  private readonly acquiring = new Set<string>();
  private readonly members = new Map<string, Observed>();
  private readonly memberLease: string;
  private readonly timing: { leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private lastHandover = -Infinity;
  /** The membership request in flight: stop() waits for it, or it could recreate the Lease stop() deletes. */
  private membershipRound: Promise<void> = Promise.resolve();

  constructor(private readonly o: BucketElectionOptions) {
    this.timing = {
      leaseDurationSeconds: o.leaseDurationSeconds ?? DEFAULT_LEASE_TIMING.leaseDurationSeconds,
      renewDeadlineSeconds: o.renewDeadlineSeconds ?? DEFAULT_LEASE_TIMING.renewDeadlineSeconds,
      retryPeriodSeconds: o.retryPeriodSeconds ?? DEFAULT_LEASE_TIMING.retryPeriodSeconds,
    };
    const prefix = o.prefix ?? 'kpa';
    this.memberLease = `${prefix}-replica-${podNameOfHolder(o.identity)}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253);
    for (const bucket of o.buckets) {
      this.electors.set(bucket, new LeaderElector({
        api: o.api, namespace: o.namespace, leaseName: o.leaseNameOf?.(bucket) ?? bucket, identity: o.identity, clock: o.clock,
        logger: o.logger, ...this.timing, onApiError: o.onApiError,
        mayAcquire: (freeFor) => {
          const allowed = this.running && (o.buckets.length === 1 || this.held.size + this.acquiring.size < this.shareOf(o.identity) ||
            freeFor >= 2 * this.timing.retryPeriodSeconds);
          // Counted until the attempt ends: two buckets free at once must not both be taken past the share.
          if (allowed) this.acquiring.add(bucket);
          return allowed;
        },
        onChange: (leader) => {
          if (leader) this.held.add(bucket);
          else this.held.delete(bucket);
          this.acquiring.delete(bucket);
          o.onChange?.(this.held);
        },
        onObserved: () => {
          this.acquiring.delete(bucket);
          this.rebalance();
        },
      }));
    }
  }

  /** The buckets this replica holds now. */
  heldBuckets(): ReadonlySet<string> {
    return this.held;
  }

  /** A bucket's live holder identity as this replica sees it; '' when free or unknown. */
  holderOf(bucket: string): string {
    return this.electors.get(bucket)?.holder ?? '';
  }

  /** Every live holder identity (for the forwarder's connections). */
  holders(): string[] {
    return [...new Set([...this.electors.values()].map((e) => e.holder).filter(Boolean))];
  }

  /** The live members (their identities, sorted), this replica included. */
  liveMembers(): string[] {
    const now = this.o.clock.now();
    const live = new Set([this.o.identity]);
    for (const m of this.members.values()) if (m.holder !== '' && now - m.seenAt < m.durationSeconds) live.add(m.holder);
    return [...live].sort();
  }

  /** How many buckets a member should hold: N/R, the remainder to the lowest identities. */
  shareOf(identity: string): number {
    const members = this.liveMembers();
    const n = this.o.buckets.length;
    const rank = Math.max(0, members.indexOf(identity));
    return Math.floor(n / members.length) + (rank < n % members.length ? 1 : 0);
  }

  /**
   * Starts campaigning. With more than one bucket, only after the members
   * were read once: a replica that saw only itself would take every bucket
   * and then hand them over one by one.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    const campaign = () => {
      if (this.running) for (const e of this.electors.values()) e.start();
    };
    if (this.o.buckets.length > 1) void this.membershipLoop().then(campaign);
    else campaign();
  }

  /**
   * Stops; releases every held bucket and the membership Lease at once
   * (`release: false`: as a crash, they expire). The membership goes first,
   * a retry period before the buckets: the others must have stopped counting
   * this replica when they see its buckets free, or they would keep a share
   * for it, hand buckets over to it, and take longer over the rest.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.membershipRound.catch(() => undefined);
    if (wasRunning && options.release !== false && this.o.buckets.length > 1) {
      const deleted = await withTimeout(this.o.api.deleteNamespacedLease({ name: this.memberLease, namespace: this.o.namespace }), 2000, 'membership lease delete')
        .then(() => true, () => false);
      if (deleted && this.held.size > 0) await new Promise((r) => setTimeout(r, this.timing.retryPeriodSeconds * 1000 * 1.5));
    }
    await Promise.all([...this.electors.values()].map((e) => e.stop(options)));
  }

  /**
   * Hands buckets over to members below their share: as many as this replica
   * holds above its own and they lack, at most once a retry period (the
   * Leases they took must show before the next look).
   */
  private rebalance(): void {
    const share = this.shareOf(this.o.identity);
    if (!this.running || this.held.size <= share) return;
    const now = this.o.clock.now();
    if (now - this.lastHandover < this.timing.retryPeriodSeconds) return;
    const counts = new Map<string, number>();
    for (const e of this.electors.values()) if (e.holder) counts.set(e.holder, (counts.get(e.holder) ?? 0) + 1);
    let lacking = 0;
    for (const m of this.liveMembers()) if (m !== this.o.identity) lacking += Math.max(0, this.shareOf(m) - (counts.get(m) ?? 0));
    const give = Math.min(lacking, this.held.size - share);
    if (give <= 0) return;
    this.lastHandover = now;
    for (const bucket of [...this.held].sort().slice(-give)) {
      this.o.logger.info({ bucket, held: this.held.size, share }, `handing over ${bucket}: this replica holds more than its share`);
      void this.electors.get(bucket)!.resign();
    }
  }

  private async membershipLoop(): Promise<void> {
    if (!this.running) return;
    try {
      this.membershipRound = withTimeout(this.renewMembership(), this.timing.renewDeadlineSeconds * 1000, 'membership lease');
      await this.membershipRound;
    } catch (err) {
      this.o.onApiError?.(err);
      this.o.logger.warn({ status: statusOf(err), err: (err as Error).message }, 'bucket election: membership lease request failed');
    }
    if (this.running) this.timer = setTimeout(() => void this.membershipLoop(), this.timing.retryPeriodSeconds * 1000);
  }

  /** Renews this replica's membership Lease, then reads everyone's. */
  private async renewMembership(): Promise<void> {
    const { api, namespace, clock } = this.o;
    const now = clock.now();
    const prefix = this.o.prefix ?? 'kpa';
    const spec = { holderIdentity: this.o.identity, leaseDurationSeconds: this.timing.leaseDurationSeconds, renewTime: new Date(now * 1000) };
    try {
      const lease = await api.readNamespacedLease({ name: this.memberLease, namespace });
      await api.replaceNamespacedLease({ name: this.memberLease, namespace, body: { ...lease, spec: { ...lease.spec, ...spec } } });
    } catch (err) {
      if (statusOf(err) === 404) {
        if (!this.running) return; // stopping: the Lease is gone on purpose
        await api.createNamespacedLease({ namespace, body: { metadata: { name: this.memberLease, namespace, labels: { [MEMBER_LABEL]: prefix } }, spec: { ...spec, acquireTime: spec.renewTime } } });
      } else if (statusOf(err) !== 409) throw err;
    }
    const list = await api.listNamespacedLease({ namespace, labelSelector: `${MEMBER_LABEL}=${prefix}` });
    const seen = new Set<string>();
    for (const lease of list.items) {
      const name = lease.metadata?.name ?? '';
      seen.add(name);
      this.observe(name, lease, now);
    }
    for (const name of [...this.members.keys()]) if (!seen.has(name)) this.members.delete(name);
    // Leases of replicas gone for good (deleted pods that could not delete theirs): anyone tidies them after 10 lease durations.
    for (const [name, m] of this.members) {
      if (name !== this.memberLease && now - m.seenAt > 10 * m.durationSeconds) {
        this.members.delete(name);
        await api.deleteNamespacedLease({ name, namespace }).catch(() => undefined);
      }
    }
  }

  private observe(name: string, lease: V1Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const record = `${holder}|${String(lease.spec?.renewTime ?? '')}`;
    const previous = this.members.get(name);
    if (previous?.record === record) return;
    // A change is seen now, on this replica's clock. A record seen for the first time may be old (its
    // replica died while this one could not look): then its own renewTime says when it was written,
    // or a replica just back from a partition would keep a share, and hand buckets, to a dead one for
    // a whole lease duration. Only the membership trusts that timestamp; bucket Leases never do.
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() / 1000 : NaN;
    const seenAt = previous || Number.isNaN(renewed) ? now : Math.min(now, renewed);
    this.members.set(name, { holder, record, seenAt, durationSeconds: lease.spec?.leaseDurationSeconds ?? this.timing.leaseDurationSeconds });
  }
}
