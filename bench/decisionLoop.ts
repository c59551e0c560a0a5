/**
 * The decision loop as the service runs it, in a fresh process so that V8's
 * optimisation state is that of a service just started (or just after a
 * leader handover): 10,000 revisions created, 60 s of stats, then ticks every
 * 2 s with the stats of those 2 s recorded in between. Prints one JSON line:
 * the first 10 ticks, and 10 ticks after 1,000, each as decisions per CPU
 * second and per wall second.
 *
 * `node dist/bench/decisionLoop.js linear|weighted [ticks-before-steady] [revisions]`
 * (fewer revisions than 10,000 show what the caches are worth: see the README).
 */
import { resolveRevision } from '../src/config/revisionConfig.js';
import { MultiScaler, type RevisionAutoscaler } from '../src/decider/multiScaler.js';
import type { RevisionKey } from '../src/metrics/revisionKey.js';
import type { Stat } from '../src/metrics/stat.js';

export const REVISIONS = 10_000;
const WARM_SECONDS = 60;
export const START = 1_700_000_000;
const MEASURED_TICKS = 10;

export interface LoopTimes {
  /** Decisions per CPU second (user + system of this process) and per wall second. */
  cpuRate: number;
  wallRate: number;
}

export interface LoopResult {
  algorithm: string;
  first: LoopTimes;
  steady: LoopTimes;
  /** How many of the measured decisions were valid: a loop of no-data results would measure nothing. */
  validShare: number;
  /** CPU milliseconds of creating the MultiScaler: its one-off warm-up of the decision path (MultiScaler's constructor). */
  warmUpCpuMs: number;
}

/**
 * A stat of load that moves with time and differs between revisions, so that
 * decisions move too. A new object each time, as the stat server's decoder
 * hands them over: the garbage they leave is what runs the young-generation
 * GC between the revisions' creation and the first tick in a service, which
 * moves the revisions' windows to the old generation. With one object per
 * revision refilled, nothing was collected in the 60 s before the first tick,
 * and its collections (4-10 ms each, a third of the first ten ticks) did that
 * move instead: a cost a service does not pay there.
 */
export function statAt(i: number, t: number): Stat {
  return {
    podName: 'service-scraper',
    averageConcurrentRequests: 50 + ((i * 7 + t * 13) % 100),
    averageProxiedConcurrentRequests: 0,
    requestCount: 100 + ((i + t) % 50),
    proxiedRequestCount: 0,
    processUptime: t,
  };
}

/** The loop's revisions and their stats (this loop's, and each build's in bench/pairedDecisionLoop.ts). */
export interface LoopRevisions {
  readonly list: RevisionAutoscaler[];
  /** The time of the next second of stats: a tick decides at it. */
  now(): number;
  /** Records a second of stats, one per revision, and moves time on. */
  second(): void;
}

/**
 * Creates `revisions` revisions in `scalers` and records their first 60 s of
 * stats. Revision i is of kind i % 6, a mix as in a cluster: a third on rps, a
 * sixth with a scale-down delay. `resolve` is the build's own
 * (bench/pairedDecisionLoop.ts passes another build's).
 */
export function loopRevisions(
  scalers: MultiScaler, algorithm: 'linear' | 'weighted', revisions = REVISIONS, resolve = resolveRevision,
): LoopRevisions {
  const variants = [0, 1, 2, 3, 4, 5].map((v) => resolve({
    annotations: {
      ...(algorithm === 'weighted' ? { 'autoscaling.knative.dev/metric-aggregation-algorithm': 'weighted-exponential' } : {}),
      ...(v % 3 === 0 ? { 'autoscaling.knative.dev/metric': 'rps', 'autoscaling.knative.dev/target': '100' } : {}),
      ...(v === 5 ? { 'autoscaling.knative.dev/scale-down-delay': '30s' } : {}),
    },
  }));
  const keys: RevisionKey[] = [];
  const list: RevisionAutoscaler[] = [];
  for (let i = 0; i < revisions; i++) {
    const key = { namespace: 'bench', name: `rev-${i}` };
    keys.push(key);
    list.push(scalers.upsert(key, variants[i % variants.length], START, 1));
  }
  let t = 0;
  const loop: LoopRevisions = {
    list,
    now: () => START + t,
    second: () => {
      const now = START + t;
      for (let i = 0; i < revisions; i++) scalers.record(keys[i], now, statAt(i, t));
      t++;
    },
  };
  for (let s = 0; s < WARM_SECONDS; s++) loop.second();
  return loop;
}

/** CPU microseconds of this process (user + system, every thread). */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export function runLoop(algorithm: 'linear' | 'weighted', steadyAfter = 1_000, revisions = REVISIONS): LoopResult {
  const c0 = cpuMicros();
  const scalers = new MultiScaler();
  const warmUpCpuMs = (cpuMicros() - c0) / 1000;
  const { list, now: nextSecond, second } = loopRevisions(scalers, algorithm, revisions);

  let valid = 0;
  let decisions = 0;
  /** One tick of every revision; ready pods follow the decision, as if pods started at once. */
  const tick = (): void => {
    const now = nextSecond();
    for (let i = 0; i < revisions; i++) {
      const scaler = list[i];
      const result = scaler.tick(now);
      if (result.valid) {
        valid++;
        scaler.readyPods = result.desiredPodCount;
      }
    }
    decisions += revisions;
  };
  const measure = (): LoopTimes => {
    let cpu = 0;
    let wall = 0;
    for (let k = 0; k < MEASURED_TICKS; k++) {
      second();
      second();
      const c0 = cpuMicros();
      const w0 = process.hrtime.bigint();
      tick();
      wall += Number(process.hrtime.bigint() - w0) / 1e9;
      cpu += (cpuMicros() - c0) / 1e6;
    }
    return { cpuRate: (MEASURED_TICKS * revisions) / cpu, wallRate: (MEASURED_TICKS * revisions) / wall };
  };

  const first = measure();
  for (let k = MEASURED_TICKS; k < steadyAfter; k++) {
    second();
    second();
    tick();
  }
  valid = 0;
  decisions = 0;
  const steady = measure();
  return { algorithm, first, steady, validShare: valid / decisions, warmUpCpuMs };
}

if (process.argv[1]?.endsWith('decisionLoop.js')) {
  const algorithm = process.argv[2] === 'weighted' ? 'weighted' : 'linear';
  const steadyAfter = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  const revisions = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
  process.stdout.write(`${JSON.stringify(runLoop(algorithm, steadyAfter, revisions))}\n`);
}
