import type { Clock } from '../clock.js';
import { keyString, type RevisionKey } from '../metrics/revisionKey.js';

/** A ready count that comes true at `at` (clock seconds). */
interface Landing {
  at: number;
  ready: number;
}

interface Revision {
  key: RevisionKey;
  /** What kpa last "applied": the scaler compares its wish with this, as with a Deployment's replicas. */
  replicas: number;
  /** In `at` order: every apply lands `delaySeconds` after it. */
  landings: Landing[];
}

/**
 * Targets mode's stand-in for a cluster (`kpa run --assume-applied DELAY`):
 * nothing applies kpa's decisions there, so kpa assumes they were applied
 * and the replicas came up (or went) `delaySeconds` later. Without it the
 * ready count stays as the targets file lists it (0 for `pods: []`): the
 * decider then never sees its scale-ups land, and once desired reaches twice
 * that count, panic never ends.
 *
 * The replicas come from the service's ScalingDriver (min/max scale, initial
 * scale and scale to zero as the scaler applies them); this only keeps what
 * was applied and when each becomes the ready count. Pure: the adapter's
 * timer calls `due()` at `nextDueAt()` and sets the ready counts it returns.
 */
export class AssumedReplicas {
  private readonly revisions = new Map<string, Revision>();

  constructor(private readonly clock: Clock, private readonly delaySeconds: number) {}

  /** A revision as the targets file lists it: `ready` pods, taken as that many replicas. */
  track(key: RevisionKey, ready: number): void {
    const k = keyString(key);
    if (!this.revisions.has(k)) this.revisions.set(k, { key, replicas: ready, landings: [] });
  }

  currentReplicas(key: RevisionKey): number {
    return this.revisions.get(keyString(key))?.replicas ?? 0;
  }

  /** The scaler applies `replicas`: they are the ready count `delaySeconds` from now. */
  apply(key: RevisionKey, replicas: number): void {
    const revision = this.revisions.get(keyString(key));
    if (!revision) return;
    revision.replicas = replicas;
    revision.landings.push({ at: this.clock.now() + this.delaySeconds, ready: replicas });
  }

  /** When the next ready count comes true, if any is pending. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const { landings } of this.revisions.values()) {
      if (landings.length > 0 && (next === undefined || landings[0].at < next)) next = landings[0].at;
    }
    return next;
  }

  /**
   * The ready counts that have come true by now, one per revision: of
   * several due at once (a late timer), the latest applied wins, as the
   * last scale of a Deployment does.
   */
  due(): { key: RevisionKey; ready: number }[] {
    const now = this.clock.now();
    const out: { key: RevisionKey; ready: number }[] = [];
    for (const { key, landings } of this.revisions.values()) {
      let ready: number | undefined;
      while (landings.length > 0 && landings[0].at <= now) ready = landings.shift()!.ready;
      if (ready !== undefined) out.push({ key, ready });
    }
    return out;
  }
}
