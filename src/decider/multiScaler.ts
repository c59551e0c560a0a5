import { type ResolvedRevision, resolveRevision } from '../config/revisionConfig.js';
import { Collection, WindowStates } from '../metrics/collection.js';
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

  /** `states`: where to keep the windows' states, shared with other revisions (see WindowStates). */
  constructor(key: RevisionKey, resolved: ResolvedRevision, readyPods: number, now: number, states?: WindowStates) {
    this.key = key;
    this.resolved = resolved;
    this.collection = new Collection(resolved.metric, states);
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
  /** By "namespace/name": the order revisions were created in, for `all()`. */
  private readonly scalers = new Map<string, RevisionAutoscaler>();
  /**
   * Each autoscaler again under its own key's namespace, then name: a stat's
   * lookup is two map reads of strings the stat already has, not a
   * "namespace/name" string made for every stat, hashed and compared (a
   * quarter of recording one). A key not found here is looked up by its
   * "namespace/name" after all, as before: a name with a "/" can share that
   * string with another revision's key, and then shares its autoscaler.
   */
  private readonly byNamespace = new Map<string, Map<string, RevisionAutoscaler>>();
  /** Every revision's window states, side by side: what a tick of all of them walks. */
  private readonly windowStates: WindowStates;

  /**
   * `warmUp` (default true) runs the decision path on throwaway revisions
   * once per process, before the first real tick (see warmUpDecisionPath).
   * Replay turns it off: its start-up is the cost that matters there, and a
   * replay runs enough ticks to warm up by itself.
   */
  constructor(options: { warmUp?: boolean; windowStates?: WindowStates } = {}) {
    this.windowStates = options.windowStates ?? new WindowStates();
    if (options.warmUp ?? true) warmUpDecisionPath();
  }

  /** Creates a revision's autoscaler, or updates its spec keeping decider state and window data. */
  upsert(key: RevisionKey, resolved: ResolvedRevision, now: number, readyPods?: number): RevisionAutoscaler {
    const k = keyString(key);
    const existing = this.scalers.get(k);
    if (existing) {
      existing.update(resolved, now);
      if (readyPods !== undefined) existing.readyPods = readyPods;
      return existing;
    }
    const created = new RevisionAutoscaler(
      { namespace: key.namespace, name: key.name }, resolved, readyPods ?? 0, now, this.windowStates,
    );
    this.scalers.set(k, created);
    let names = this.byNamespace.get(key.namespace);
    if (names === undefined) this.byNamespace.set(key.namespace, names = new Map());
    names.set(key.name, created);
    return created;
  }

  get(key: RevisionKey): RevisionAutoscaler | undefined {
    return this.byNamespace.get(key.namespace)?.get(key.name) ?? this.scalers.get(keyString(key));
  }

  delete(key: RevisionKey): boolean {
    const k = keyString(key);
    const scaler = this.scalers.get(k);
    if (scaler === undefined) return false;
    this.scalers.delete(k);
    // Whoever still holds the autoscaler keeps its windows; their place in the table is the next revision's.
    scaler.collection.release();
    const names = this.byNamespace.get(scaler.key.namespace);
    names?.delete(scaler.key.name);
    if (names?.size === 0) this.byNamespace.delete(scaler.key.namespace);
    return true;
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
    const scaler = this.get(key);
    if (scaler === undefined) return false;
    scaler.record(now, stat);
    return scaler.desiredScale === 0 && stat.averageConcurrentRequests !== 0;
  }
}

let warmedUp = false;

/** How long the throwaway revisions run, in virtual seconds: enough calls for V8 to optimise every step of a tick. */
const WARM_UP_SECONDS = 600;

/**
 * Records stats into and ticks a few throwaway revisions, one of each kind
 * (both averaging algorithms, concurrency and RPS, with and without a
 * scale-down delay), in and out of panic, so that V8 has optimised the
 * decision path before a service's first tick. Without it the first ticks
 * of 10,000 revisions ran interpreted and then deoptimised on values the
 * first decisions had not shown (a quotient of pods that is not whole).
 *
 * It cannot change a decision: the revisions are this function's own, in a
 * MultiScaler of its own; the only state they share with real ones is the
 * weighted window's table of weights, whose entries are the same bits
 * whoever computes them first. It costs some milliseconds once per process.
 */
export function warmUpDecisionPath(): void {
  if (warmedUp) return;
  warmedUp = true;
  const scalers = new MultiScaler({ warmUp: false });
  const kinds: ResolvedRevision[] = [];
  for (const algorithm of ['linear', 'weighted-exponential']) {
    for (const metric of ['concurrency', 'rps']) {
      for (const delay of [undefined, '30s']) {
        kinds.push(resolveRevision({
          annotations: {
            'autoscaling.knative.dev/metric-aggregation-algorithm': algorithm,
            'autoscaling.knative.dev/metric': metric,
            'autoscaling.knative.dev/target': metric === 'rps' ? '100' : '10',
            ...(delay === undefined ? {} : { 'autoscaling.knative.dev/scale-down-delay': delay }),
          },
        }));
      }
    }
  }
  const start = 1_000_000_000;
  const keys = kinds.map((_, i) => ({ namespace: 'kpa-warm-up', name: `kind-${i}` }));
  const list = kinds.map((kind, i) => scalers.upsert(keys[i], kind, start, 1));
  for (let s = 0; s < WARM_UP_SECONDS; s++) {
    const now = start + s;
    // A surge every 150 s (panic), calm in between (panic ends), fractional loads, and a silence (no data).
    const surge = s % 150 < 20 ? 300 : 0;
    const silent = s % 300 >= 230 && s % 300 < 300;
    for (let i = 0; i < list.length; i++) {
      if (!silent) {
        scalers.record(keys[i], now, {
          podName: 'warm-up',
          averageConcurrentRequests: 15 + surge + ((s * 7 + i) % 13) * 0.37,
          averageProxiedConcurrentRequests: 0,
          requestCount: 150 + surge * 10 + ((s + i) % 11) * 0.5,
          proxiedRequestCount: 0,
          processUptime: s,
        });
      }
      if (s % 2 === 0) {
        const result = list[i].tick(now);
        // Ready pods lag the decision by one, so that pods wanted over ready is not always whole.
        if (result.valid) list[i].readyPods = Math.max(1, result.desiredPodCount + ((s >> 1) % 3) - 1);
      }
    }
  }
}
