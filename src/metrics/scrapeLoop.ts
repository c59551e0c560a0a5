import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { keyString, type RevisionKey } from './revisionKey.js';
import type { PodTarget, RevisionScraper } from './scraper.js';
import { type ScrapeTimeliness, TIMELINESS_WINDOW, TimelinessWindow } from './scrapeTimeliness.js';
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
  /** Each stat's lateness: seconds from its revision's scheduled time to the stat. */
  onLateness?: (seconds: number) => void;
  /** Each revision-second whose stat did not land in its own second (skipped, failed or too late). */
  onMissed?: () => void;
  /** The period (default 1000 ms): every revision is scraped once in each, at its own phase. */
  intervalMs?: number;
  /**
   * The part of the period the revisions' phases are spread over (default 0.5): the rest is
   * left for the last ones' scrapes to finish before the second ends.
   */
  spread?: number;
  /**
   * How long runOnce waits for its scrapes (default 250 ms, far above a healthy scrape's
   * p99): a hung one goes on holding only its own revision, until it answers or the
   * scraper's timeout ends it.
   */
  roundWaitMs?: number;
}

/** Phases are whole multiples of this (seconds), so that the revisions of one slot start on one timer. */
const SLOT_SECONDS = 0.005;

/** A revision the loop scrapes, with its phase, its open scrape and its recent timeliness. */
interface ScrapedRevision {
  readonly id: string;
  /** Seconds into each period at which its scrape is due. */
  readonly offset: number;
  target: ScrapeTarget;
  /** The refresh that last listed it; older: it has no pods to scrape any more. */
  generation: number;
  /** In the period's schedule. */
  listed: boolean;
  inFlight: boolean;
  lastError: string | undefined;
  readonly timeliness: TimelinessWindow;
}

/** FNV-1a of the revision's key: a phase that is the same on every start and every replica. */
function phaseHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Scrapes every revision with a scrape target once per second (Knative's
 * collector scrape loop), each on its own schedule aligned to the second: a
 * fixed phase within the first half of the second, from a hash of its key,
 * so that 3,000 revisions do not all start at once and each stat lands in
 * its own second's bucket (the collector buckets stats by floor(now); a loop
 * of rounds drifting against the seconds gave 13 % of seconds two stats or
 * none). Each revision has one slot, as in Knative, where each revision's
 * scraper runs on its own:
 * - a revision whose previous scrape is still running is skipped that second;
 * - a hung scrape holds nothing but its own revision, so any number of hung
 *   revisions leave the others on time;
 * - a revision-second without a stat in its own second is counted as missed.
 * Errors are logged once per change per revision, as Knative's
 * updateLastError does. Connections of pods that no revision lists any more
 * are closed each second.
 */
export class ScrapeLoop {
  private readonly options: ScrapeLoopOptions;
  private readonly periodSeconds: number;
  private readonly spreadSlots: number;
  private readonly revisions = new Map<string, ScrapedRevision>();
  private generation = 0;
  /** The listed revisions by phase, rebuilt when the set of revisions changes. */
  private order: ScrapedRevision[] = [];
  private orderStale = true;
  /** The period the schedule is in (floor(now / period)), and the next revision due in it. */
  private period = 0;
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Every scrape still open, awaited by stop(). */
  private readonly open = new Set<Promise<void>>();

  constructor(options: ScrapeLoopOptions) {
    this.options = options;
    this.periodSeconds = (options.intervalMs ?? 1000) / 1000;
    const spread = Math.min(1, Math.max(0, options.spread ?? 0.5));
    this.spreadSlots = Math.max(1, Math.floor((spread * this.periodSeconds) / SLOT_SECONDS));
  }

  /** Starts the schedule; the first scrapes are due in the next period. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.period = Math.floor(this.options.clock.now() / this.periodSeconds);
    this.cursor = Infinity; // nothing more is due in the period start() falls in
    this.arm((this.period + 1) * this.periodSeconds);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all(this.open);
  }

  /** The revision's recent timeliness; undefined while it has no pods to scrape. */
  timeliness(key: RevisionKey): ScrapeTimeliness | undefined {
    return this.revisions.get(keyString(key))?.timeliness.summary();
  }

  /**
   * Scrapes every target now, on its own (tests and virtual clocks, with the
   * timer far out); resolves when they are done, or after `roundWaitMs` for
   * those still open, which go on alone.
   */
  async runOnce(): Promise<void> {
    this.refresh();
    const now = this.options.clock.now();
    const started: Promise<void>[] = [];
    for (const revision of this.revisions.values()) {
      if (revision.generation !== this.generation) continue;
      const scrape = this.due(revision, now);
      if (scrape) started.push(scrape);
    }
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(started), new Promise<void>((resolve) => (wait = setTimeout(resolve, this.options.roundWaitMs ?? 250)))]);
    clearTimeout(wait);
  }

  private arm(at: number): void {
    const delayMs = Math.max(1, Math.ceil((at - this.options.clock.now()) * 1000));
    this.timer = setTimeout(() => this.wake(), Math.min(delayMs, 2 ** 31 - 1));
  }

  /** Starts every scrape due by now, then sleeps until the next one is. */
  private wake(): void {
    this.timer = null;
    if (!this.running) return;
    const now = this.options.clock.now();
    const period = Math.floor(now / this.periodSeconds);
    if (period !== this.period) {
      this.missRest(period - this.period - 1);
      this.period = period;
      this.plan();
      this.cursor = 0;
    }
    const base = period * this.periodSeconds;
    while (this.cursor < this.order.length && base + this.order[this.cursor].offset <= now) {
      const revision = this.order[this.cursor++];
      this.due(revision, base + revision.offset);
    }
    this.arm(this.cursor < this.order.length ? base + this.order[this.cursor].offset : base + this.periodSeconds);
  }

  /**
   * The event loop was held past the end of a period: the revisions of it not
   * yet started, and all of those of any period skipped whole, missed theirs.
   */
  private missRest(skippedPeriods: number): void {
    for (let i = Math.min(this.cursor, this.order.length); i < this.order.length; i++) this.miss(this.order[i]);
    if (skippedPeriods <= 0) return;
    for (const revision of this.order) {
      for (let i = 0; i < Math.min(skippedPeriods, TIMELINESS_WINDOW); i++) revision.timeliness.record(null, true);
      for (let i = 0; i < skippedPeriods; i++) this.options.onMissed?.();
    }
  }

  /** The period's schedule: the targets now, by phase. */
  private plan(): void {
    this.refresh();
    if (!this.orderStale) return;
    this.order = [];
    for (const revision of this.revisions.values()) {
      revision.listed = revision.generation === this.generation;
      if (revision.listed) this.order.push(revision);
    }
    this.order.sort((a, b) => a.offset - b.offset);
    this.orderStale = false;
  }

  /** Takes in the current targets and pods; forgets revisions without pods to scrape and closes their pods' connections. */
  private refresh(): void {
    const generation = ++this.generation;
    const urls = new Set<string>();
    for (const target of this.options.targets()) {
      const id = keyString(target.key);
      let revision = this.revisions.get(id);
      if (!revision) {
        revision = {
          id, offset: (phaseHash(id) % this.spreadSlots) * SLOT_SECONDS, target, generation, listed: false,
          inFlight: false, lastError: undefined, timeliness: new TimelinessWindow(),
        };
        this.revisions.set(id, revision);
      }
      revision.target = target;
      revision.generation = generation;
      if (!revision.listed) this.orderStale = true;
      for (const pod of target.pods) urls.add(pod.url);
    }
    for (const [id, revision] of this.revisions) {
      if (revision.generation === generation) continue;
      if (revision.listed) this.orderStale = true;
      // Scaled to zero or deleted: nothing failed, its error and timeliness go (once its last scrape is over).
      if (!revision.inFlight) this.revisions.delete(id);
    }
    this.options.scraper.retainPods(urls);
  }

  /** The revision's scrape for the second of `scheduledAt`, unless its last one is still open. */
  private due(revision: ScrapedRevision, scheduledAt: number): Promise<void> | null {
    if (revision.inFlight) {
      this.miss(revision);
      return null;
    }
    const scrape = this.scrapeOne(revision, scheduledAt);
    this.open.add(scrape);
    void scrape.finally(() => this.open.delete(scrape));
    return scrape;
  }

  private miss(revision: ScrapedRevision): void {
    revision.timeliness.record(null, true);
    this.options.onMissed?.();
  }

  private async scrapeOne(revision: ScrapedRevision, scheduledAt: number): Promise<void> {
    revision.inFlight = true;
    const { clock, logger } = this.options;
    const { key, pods, stableWindowSeconds } = revision.target;
    const started = clock.now();
    try {
      const outcome = await this.options.scraper.scrape(pods, started, stableWindowSeconds);
      if (outcome.kind === 'no-pods') {
        revision.lastError = undefined; // scaled to zero: nothing failed
        return;
      }
      const finished = clock.now();
      this.options.onScrapeSeconds?.(finished - started, outcome.kind === 'stat');
      if (outcome.kind === 'error') {
        if (revision.lastError !== outcome.message) {
          revision.lastError = outcome.message;
          logger.warn({ namespace: key.namespace, revision: key.name }, `scrape failed: ${outcome.message}`);
        }
        this.miss(revision);
        return;
      }
      if (revision.lastError !== undefined) {
        revision.lastError = undefined;
        logger.info({ namespace: key.namespace, revision: key.name }, 'scraping recovered');
      }
      this.options.onStat(key, outcome.stat, finished);
      const lateness = Math.max(0, finished - scheduledAt);
      // The collector buckets a stat by floor(now): past the second's end it counts for the next one.
      const missed = Math.floor(finished) !== Math.floor(scheduledAt);
      revision.timeliness.record(lateness, missed);
      this.options.onLateness?.(lateness);
      if (missed) this.options.onMissed?.();
    } catch (err) {
      // The scraper reports failures as outcomes; anything thrown is a bug, logged rather than left unhandled.
      logger.error({ err, namespace: key.namespace, revision: key.name }, 'scrape threw');
      this.miss(revision);
    } finally {
      revision.inFlight = false;
    }
  }
}
