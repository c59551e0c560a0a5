import type { Clock } from '../clock.js';
import { emptyStat } from '../metrics/stat.js';
import type { RevisionStat } from '../metrics/wireStats.js';
import type { RequestRouter } from './router.js';
import type { Target } from './target.js';

/** Where the activator's stats go: kpa's stat server through a StatSender, or a test's array. */
export interface StatSink {
  /** Hands a batch over without waiting; false when it was dropped. */
  send(stats: readonly RevisionStat[]): boolean;
}

export interface LoadReporterOptions {
  router: RequestRouter;
  sink: StatSink;
  clock: Clock;
  /** The pod name the stats carry: kpa sums the stats of different activator pods, as Knative does. */
  podName: string;
  /** Stats per websocket frame (default 1,000: a frame stays far below kpa's 1 MiB limit). */
  frameSize?: number;
}

/**
 * Reports each target's load to kpa every second, as Knative's activator
 * does (pkg/activator/handler/concurrency_reporter.go): the time-averaged
 * concurrency and the request count of the second, and at once a stat of
 * concurrency 1 for the first request after an idle period, so a target at
 * zero is woken without waiting for a tick. Two choices differ from
 * Knative's, because here the activator is the only metric source:
 * - every routed target is reported every second, idle ones as zeros, so
 *   kpa can tell an idle target (zeros: scale to zero) from an activator
 *   that stopped reporting (no data: kpa holds the replicas);
 * - reports go out in the middle of each wall-clock second, so that with
 *   clocks within half a second of kpa's each report lands in its own
 *   one-second bucket, never two in one bucket and none in the next.
 */
export class LoadReporter {
  private timer: NodeJS.Timeout | null = null;
  private readonly frameSize: number;

  constructor(private readonly o: LoadReporterOptions) {
    this.frameSize = o.frameSize ?? 1000;
  }

  start(): void {
    if (this.timer) return;
    // The next x.5 s of the wall clock; each report then schedules the one a second after its own
    // slot, so a timer that fires a little early or late never yields two reports in one second.
    let slot = Math.floor(this.o.clock.now() - 0.5) + 1.5;
    const schedule = (): void => {
      const now = this.o.clock.now();
      if (now - slot > 1) slot = Math.floor(now - 0.5) + 1.5; // stalled (or the clock jumped): skip to the next slot
      this.timer = setTimeout(() => {
        this.report();
        slot += 1;
        schedule();
      }, Math.max(0, (slot - now) * 1000));
    };
    schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The first request after an idle period, reported on its own now (Knative's concurrency 1, count 1). */
  firstRequest(target: Target): void {
    const stat = emptyStat(this.o.podName);
    stat.averageConcurrentRequests = 1;
    stat.requestCount = 1;
    this.o.sink.send([{ key: target.key, stat }]);
  }

  /** Closes every target's period and sends its stats. */
  report(): void {
    const now = this.o.clock.now();
    let batch: RevisionStat[] = [];
    for (const target of this.o.router.all()) {
      const period = target.report(now);
      const stat = emptyStat(this.o.podName);
      // The activator's whole load: pods behind it are not scraped, so nothing is counted twice
      // and the proxied fields (what queue-proxy already saw come through an activator) stay 0.
      stat.averageConcurrentRequests = period.averageConcurrency;
      stat.requestCount = period.requestCount;
      batch.push({ key: target.key, stat });
      if (batch.length >= this.frameSize) {
        this.o.sink.send(batch);
        batch = [];
      }
    }
    if (batch.length > 0) this.o.sink.send(batch);
  }
}
