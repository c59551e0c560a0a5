import type { ResolvedRevision } from '../config/revisionConfig.js';
import { Collection } from '../metrics/collection.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';
import type { Stat } from '../metrics/stat.js';
import { Decider, type ScaleResult } from './decider.js';

/** One revision's autoscaler: its windows, its decider and the pods it sees ready. */
export class RevisionAutoscaler {
  readonly key: RevisionKey;
  resolved: ResolvedRevision;
  readonly collection: Collection;
  readonly decider: Decider;
  /** Ready pods as last reported (by the pod lister, a recording or a simulation). */
  readyPods: number;
  /** The latest valid desired count; -1 until the first valid decision (as Knative's DesiredScale). */
  desiredScale = -1;
  /** The latest excess burst capacity; before any decision, what initial scale would give (as Knative). */
  excessBurstCapacity: number;
  /** The latest result of `tick`, valid or not. */
  lastResult: ScaleResult | null = null;

  constructor(key: RevisionKey, resolved: ResolvedRevision, readyPods: number, now: number) {
    this.key = key;
    this.resolved = resolved;
    this.collection = new Collection(resolved.metric);
    this.decider = new Decider(resolved.decider, this.collection, readyPods, now);
    this.readyPods = readyPods;
    const tbc = resolved.decider.targetBurstCapacity;
    this.excessBurstCapacity = tbc === -1 || tbc === 0
      ? tbc
      : Math.trunc(resolved.decider.initialScale * resolved.decider.totalValue - tbc);
  }

  update(resolved: ResolvedRevision, now: number): void {
    this.resolved = resolved;
    this.decider.update(resolved.decider);
    this.collection.update(resolved.metric, now);
  }

  record(now: number, stat: Stat): void {
    this.collection.record(now, stat);
  }

  /** Runs the decider; a valid result becomes the latest decision. */
  tick(now: number): ScaleResult {
    const result = this.decider.scale(now, this.readyPods);
    this.lastResult = result;
    if (result.valid) {
      this.desiredScale = result.desiredPodCount;
      this.excessBurstCapacity = result.excessBurstCapacity;
    }
    return result;
  }
}

/**
 * Every revision's autoscaler (Knative's MultiScaler plus collector), without
 * timers: callers tick on their own clock (the service every 2 s, replay and
 * simulation in virtual time).
 */
export class MultiScaler {
  private readonly scalers = new Map<string, RevisionAutoscaler>();

  /** Creates a revision's autoscaler, or updates its spec keeping decider state and window data. */
  upsert(key: RevisionKey, resolved: ResolvedRevision, now: number, readyPods?: number): RevisionAutoscaler {
    const k = keyString(key);
    const existing = this.scalers.get(k);
    if (existing) {
      existing.update(resolved, now);
      if (readyPods !== undefined) existing.readyPods = readyPods;
      return existing;
    }
    const created = new RevisionAutoscaler({ namespace: key.namespace, name: key.name }, resolved, readyPods ?? 0, now);
    this.scalers.set(k, created);
    return created;
  }

  get(key: RevisionKey): RevisionAutoscaler | undefined {
    return this.scalers.get(keyString(key));
  }

  delete(key: RevisionKey): boolean {
    return this.scalers.delete(keyString(key));
  }

  all(): IterableIterator<RevisionAutoscaler> {
    return this.scalers.values();
  }

  get size(): number {
    return this.scalers.size;
  }

  /**
   * Records a stat. Returns whether the revision should be decided at once
   * (Knative's Poke): it was last scaled to zero and this stat shows load.
   * Stats for unknown revisions are dropped and return false.
   */
  record(key: RevisionKey, now: number, stat: Stat): boolean {
    const scaler = this.scalers.get(keyString(key));
    if (!scaler) return false;
    scaler.record(now, stat);
    return scaler.desiredScale === 0 && stat.averageConcurrentRequests !== 0;
  }
}
