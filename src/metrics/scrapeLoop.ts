import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from './revisionKey.js';
import type { PodTarget, RevisionScraper } from './scraper.js';
import type { Stat } from './stat.js';

/** A revision with pods to scrape. */
export interface ScrapeTarget {
  key: RevisionKey;
  pods: readonly PodTarget[];
  stableWindowSeconds: number;
}

export interface ScrapeLoopOptions {
  targets: () => Iterable<ScrapeTarget>;
  scraper: RevisionScraper;
  clock: Clock;
  logger: Logger;
  /** Each aggregated stat, stamped with the clock time the scrape finished. */
  onStat: (key: RevisionKey, stat: Stat, now: number) => void;
  /** Seconds each revision's scrape took, for the latency histogram. */
  onScrapeSeconds?: (seconds: number, ok: boolean) => void;
  /** Revisions scraped at once (default 16). */
  concurrency?: number;
  intervalMs?: number;
}

/**
 * Scrapes every revision with a scrape target each second (Knative's
 * collector scrape loop), revisions in parallel with bounded concurrency. A
 * revision whose previous scrape is still running (a hung pod) is skipped, so
 * it never delays the others. Errors are logged once per change per revision,
 * as Knative's updateLastError does.
 */
export class ScrapeLoop {
  private readonly options: ScrapeLoopOptions;
  private readonly inFlight = new Set<string>();
  private readonly lastError = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> = Promise.resolve();

  constructor(options: ScrapeLoopOptions) {
    this.options = options;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.round = this.runOnce();
    }, this.options.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
  }

  /** One round over every target; resolves when the revisions started in it are done. */
  async runOnce(): Promise<void> {
    const queue = [...this.options.targets()].filter((t) => !this.inFlight.has(keyString(t.key)));
    // The limit counts scrapes still running from earlier rounds (hung pods), so it bounds the total.
    const limit = Math.max(1, this.options.concurrency ?? 16) - this.inFlight.size;
    const runners = Array.from({ length: Math.max(0, Math.min(limit, queue.length)) }, async () => {
      for (let target = queue.shift(); target; target = queue.shift()) await this.scrapeOne(target);
    });
    await Promise.all(runners);
  }

  private async scrapeOne(target: ScrapeTarget): Promise<void> {
    const k = keyString(target.key);
    this.inFlight.add(k);
    const { clock, logger } = this.options;
    const started = clock.now();
    try {
      const outcome = await this.options.scraper.scrape(target.pods, started, target.stableWindowSeconds);
      if (outcome.kind === 'no-pods') {
        this.lastError.delete(k); // scaled to zero: nothing failed
        return;
      }
      const finished = clock.now();
      this.options.onScrapeSeconds?.(finished - started, outcome.kind === 'stat');
      if (outcome.kind === 'error') {
        if (this.lastError.get(k) !== outcome.message) {
          this.lastError.set(k, outcome.message);
          logger.warn({ namespace: target.key.namespace, revision: target.key.name }, `scrape failed: ${outcome.message}`);
        }
        return;
      }
      if (this.lastError.delete(k)) logger.info({ namespace: target.key.namespace, revision: target.key.name }, 'scraping recovered');
      this.options.onStat(target.key, outcome.stat, finished);
    } finally {
      this.inFlight.delete(k);
    }
  }

  /** Forgets a deleted revision's error state. */
  forget(key: RevisionKey): void {
    this.lastError.delete(keyString(key));
  }
}
