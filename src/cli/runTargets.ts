import { type Clock, systemClock } from '../clock.js';
import { formatGoDuration, parseGoDurationNanos } from '../config/goParse.js';
import { AssumedReplicas } from '../service/assumedReplicas.js';
import { type LiveAutoscaler, type ServiceRunOptions, startLiveAutoscaler } from '../service/liveAutoscaler.js';
import { canComeBackFromZero, ScalingDriver } from '../service/scalingDriver.js';
import type { StaticTarget } from '../service/targetsFile.js';
import { UsageError } from './usage.js';

/** `--assume-applied`'s default: about how long a pod takes to become ready. */
export const DEFAULT_ASSUME_APPLIED = '5s';

/**
 * `--assume-applied DELAY`: a Go duration ≥ 0 in seconds, or null for
 * `off` (the ready count stays as the targets file lists it).
 */
export function assumeAppliedOption(value: string = DEFAULT_ASSUME_APPLIED): number | null {
  if (value === 'off') return null;
  const nanos = parseGoDurationNanos(value);
  if (nanos === undefined || nanos < 0n) {
    throw new UsageError(`--assume-applied must be a duration such as 5s, 500ms or 0s, or off; got ${JSON.stringify(value)}`);
  }
  return Number(nanos) / 1e9;
}

export interface TargetsRunOptions extends ServiceRunOptions {
  targets: readonly StaticTarget[];
  /** Seconds after which an applied decision is the ready count; null: the file's count, for good. */
  assumeAppliedSeconds: number | null;
  /** Tests drive these by hand. */
  clock?: Clock;
  tickIntervalMs?: number;
  scrapeIntervalMs?: number;
}

/**
 * `kpa run --targets`: the service for a static list of revisions. Nothing
 * applies its decisions, so unless `--assume-applied off` it assumes they
 * were: the scaler's replicas become the ready count after the delay, and
 * every scale reason in the API says so.
 */
export async function startTargetsRun(o: TargetsRunOptions): Promise<{ live: LiveAutoscaler; close(): Promise<void> }> {
  const clock = o.clock ?? systemClock;
  const live = await startLiveAutoscaler({
    logger: o.logger, clock, host: o.host, httpPort: o.httpPort, statsPort: o.statsPort, recorder: o.recorder, statLimits: o.statLimits,
    metricNames: o.metricNames, statsToken: o.statsToken,
    tickIntervalMs: o.tickIntervalMs, scrapeIntervalMs: o.scrapeIntervalMs,
  });
  const { service } = live;
  const delay = o.assumeAppliedSeconds;
  if (delay === null) {
    for (const t of o.targets) service.upsertRevision(t.key, t.settings, t.pods, t.metricsSource);
    o.logger.info({ revisions: o.targets.length }, 'targets mode: decisions are logged and served, not applied; ready counts stay as the file lists them');
    return { live, close: () => live.close() };
  }

  const assumed = new AssumedReplicas(clock, delay);
  // One timer, for the earliest pending ready count; each landing arms the next.
  let timer: NodeJS.Timeout | undefined;
  const land = (): void => {
    timer = undefined;
    for (const { key, ready } of assumed.due()) service.setReadyCount(key, ready);
    arm();
  };
  const arm = (): void => {
    const at = assumed.nextDueAt();
    if (timer !== undefined || at === undefined) return;
    timer = setTimeout(land, Math.max(0, (at - clock.now()) * 1000));
  };
  const after = delay === 0 ? 'at once' : `${formatGoDuration(BigInt(Math.round(delay * 1e9)))} later`;
  const driver = new ScalingDriver({
    service, clock, logger: o.logger,
    actuator: {
      currentReplicas: (key) => assumed.currentReplicas(key),
      apply: (key, replicas) => {
        assumed.apply(key, replicas);
        arm();
      },
      // As in the embedded demo: a revision kpa activator reports for may go to zero; a scraped one has nothing to bring it back.
      activatorInPath: (key) => canComeBackFromZero(service, key, false),
    },
    note: `not applied (targets mode): the ready count is assumed to follow ${after}`,
  });
  for (const t of o.targets) {
    driver.track(t.key, service.upsertRevision(t.key, t.settings, t.pods, t.metricsSource));
    assumed.track(t.key, t.pods.length);
  }
  o.logger.info({ revisions: o.targets.length, assumeAppliedSeconds: delay },
    `targets mode: decisions are logged and served, not applied; each revision's ready count is assumed to follow them ${after}`);
  return {
    live,
    async close() {
      clearTimeout(timer);
      driver.stop();
      await live.close();
    },
  };
}
