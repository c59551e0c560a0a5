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
  /** Revisions a round scrapes at once (default 16); a scrape still running from an earlier round does not count. */
  concurrency?: number;
  /**
   * How long one scrape may hold one of the round's `concurrency` runners (default 250 ms, far
   * above a healthy scrape's p99 of about 40 ms): past it the scrape goes on holding only its own
   * revision's slot, until it answers or the scraper's timeout ends it, and the runner moves on.
   */
  runnerHoldMs?: number;
  intervalMs?: number;
}

/**
 * Scrapes every revision with a scrape target each second (Knative's
 * collector scrape loop), revisions in parallel with bounded concurrency.
 * Each revision has one slot, so a hung pod holds only its own revision's, as
 * in Knative, where each revision's scraper runs on its own:
 * - a revision whose previous scrape is still running is skipped;
 * - a scrape slower than `runnerHoldMs` lets its runner go on to the next
 *   revision, so hung scrapes cannot fill the round's runners;
 * - revisions whose last scrape failed go after the others, so a healthy
 *   revision never waits behind a known-bad one.
 * At most one scrape per revision is open (each ended by the scraper's
 * timeout). Errors are logged once per change per revision, as Knative's
 * updateLastError does.
 */
export class ScrapeLoop {
  private readonly options: ScrapeLoopOptions;
  private readonly inFlight = new Set<string>();
  private readonly lastError = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> = Promise.resolve();
  /** Scrapes that outlived their runner's hold, awaited by stop(). */
  private readonly outliving = new Set<Promise<void>>();

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
    await Promise.all(this.outliving);
  }

  /** One round over every target; resolves when the revisions started in it are done. */
  async runOnce(): Promise<void> {
    const due = [...this.options.targets()].filter((t) => !this.inFlight.has(keyString(t.key)));
    // Healthy revisions first: 16 revisions with hung pods used to take every runner, and no healthy
    // revision got its stat (the scrapes still in flight were also counted against the limit).
    const queue = [
      ...due.filter((t) => !this.lastError.has(keyString(t.key))),
      ...due.filter((t) => this.lastError.has(keyString(t.key))),
    ];
    const limit = Math.max(1, this.options.concurrency ?? 16);
    const holdMs = this.options.runnerHoldMs ?? 250;
    const runners = Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let target = queue.shift(); target; target = queue.shift()) {
        const scrape = this.scrapeOne(target);
        let hold: NodeJS.Timeout | undefined;
        const outlived = await Promise.race([
          scrape.then(() => false),
          new Promise<boolean>((resolve) => { hold = setTimeout(() => resolve(true), holdMs); }),
        ]);
        clearTimeout(hold);
        if (outlived) {
          this.outliving.add(scrape);
          void scrape.finally(() => this.outliving.delete(scrape));
        }
      }
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
