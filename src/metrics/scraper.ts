import { aggregateScrapedStats, sampleSize, type ScrapablePod, scrapeOrder } from './scrapeSampling.js';
import { statFromPrometheusText } from './prometheusText.js';
import { checkStat, DEFAULT_STAT_BOUNDS, describeRejection, type Stat, type StatBounds, type StatRejection } from './stat.js';
import { decodeStat } from './wireStats.js';
import { PodClients, type PodResponse } from './podClients.js';

/** A ready pod to scrape: queue-proxy's metrics URL, normally `http://POD_IP:9090/metrics`. */
export interface PodTarget extends ScrapablePod {
  url: string;
}

/** A scrape of one revision: its stat, nothing to scrape (no ready pods), or why it failed. */
export type ScrapeOutcome =
  | { readonly kind: 'stat'; readonly stat: Stat; readonly sampled: number }
  | { readonly kind: 'no-pods' }
  | { readonly kind: 'error'; readonly message: string };

export class ScrapeError extends Error {
  /** Set when the pod answered with a stat kpa refuses (not finite, negative, past the bounds). */
  constructor(readonly url: string, readonly reason: string, readonly rejection?: StatRejection) {
    super(`${url}: ${reason}`);
    this.name = 'ScrapeError';
  }
}

export const PROTOBUF_MIME = 'application/protobuf';
export const DEFAULT_SCRAPE_TIMEOUT_MS = 3000;
/**
 * The largest metrics body kpa reads from a pod. queue-proxy's protobuf stat
 * is about a hundred bytes; an app serving its whole Prometheus exposition may
 * be much larger, but a pod streaming megabytes every second is broken or
 * hostile, and must not cost the autoscaler its memory.
 */
export const MAX_SCRAPE_BODY_BYTES = 4 * 1024 * 1024;

/** The Accept header of every scrape, as undici's flat header list (made once, shared by every request). */
const SCRAPE_HEADERS: readonly string[] = ['accept', `${PROTOBUF_MIME}, text/plain;q=0.5`];

/** The connections fetchPodStat uses when given none (one-off calls and tests); a RevisionScraper has its own. */
const sharedPodClients = new PodClients();

/**
 * GETs one pod's stat: protobuf for `Accept: application/protobuf` (what
 * queue-proxy serves), or the Prometheus text exposition where a pod serves
 * that instead, over the pod's keep-alive connection in `clients`. The
 * timeout covers the whole exchange, body included; bodies past
 * `maxBodyBytes` (declared or streamed) are refused and their connection
 * closed.
 */
export async function fetchPodStat(
  pod: PodTarget, timeoutMs: number, maxBodyBytes = MAX_SCRAPE_BODY_BYTES, bounds: StatBounds = DEFAULT_STAT_BOUNDS,
  clients: PodClients = sharedPodClients,
): Promise<Stat> {
  let response: PodResponse;
  try {
    response = await clients.get(pod.url, { timeoutMs, maxBodyBytes, headers: SCRAPE_HEADERS });
  } catch (err) {
    throw new ScrapeError(pod.url, (err as Error).message);
  }
  if (response.status < 200 || response.status >= 300) throw new ScrapeError(pod.url, `HTTP status ${response.status}`);
  let stat: Stat | StatRejection;
  try {
    if (response.contentType === PROTOBUF_MIME) stat = decodeStat(response.body, bounds);
    else if (response.contentType === 'text/plain') {
      stat = statFromPrometheusText(new TextDecoder().decode(response.body), pod.name);
      stat = checkStat(stat, bounds) ?? stat;
    } else throw new ScrapeError(pod.url, `unexpected content type ${JSON.stringify(response.contentType)}`);
  } catch (err) {
    if (err instanceof ScrapeError) throw err;
    throw new ScrapeError(pod.url, (err as Error).message);
  }
  if ('reason' in stat) throw new ScrapeError(pod.url, describeRejection(stat, bounds), stat);
  return stat;
}

export interface RevisionScraperOptions {
  timeoutMs?: number;
  random?: () => number;
  /** Replaceable for tests and the simulator's in-memory pods. */
  fetchStat?: (pod: PodTarget, timeoutMs: number) => Promise<Stat>;
  /** What a pod may report; a pod past them fails its scrape. */
  bounds?: StatBounds;
  /** Each refused pod stat, for the rejected-stats counter. */
  onRejected?: (rejection: StatRejection) => void;
  /** The pods' connections (default: the scraper's own). */
  clients?: PodClients;
}

/**
 * Scrapes a revision the way Knative's serviceScraper does: a statistical
 * sample of its ready pods (older than the stable window first), as many
 * scrapers in parallel as the sample size, each moving on to the next pod in
 * the population when one fails; fewer successes than the sample size is an
 * error (no stat this second), otherwise the sample average is scaled up to
 * all ready pods.
 */
export class RevisionScraper {
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly fetchStat: (pod: PodTarget, timeoutMs: number) => Promise<Stat>;
  private readonly onRejected: (rejection: StatRejection) => void;
  private readonly clients: PodClients;

  constructor(options: RevisionScraperOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    const bounds = options.bounds ?? DEFAULT_STAT_BOUNDS;
    const clients = (this.clients = options.clients ?? new PodClients());
    this.fetchStat = options.fetchStat ?? ((pod, timeoutMs) => fetchPodStat(pod, timeoutMs, MAX_SCRAPE_BODY_BYTES, bounds, clients));
    this.onRejected = options.onRejected ?? (() => undefined);
  }

  /** Closes the connections of pods that are no revision's ready pod any more (the scrape loop calls it every second). */
  retainPods(urls: ReadonlySet<string>): void {
    this.clients.retain(urls);
  }

  /** Closes every pod connection. */
  close(): Promise<void> {
    return this.clients.close();
  }

  async scrape(pods: readonly PodTarget[], now: number, stableWindowSeconds: number): Promise<ScrapeOutcome> {
    if (pods.length === 0) return { kind: 'no-pods' };
    const wanted = sampleSize(pods.length);
    const order = scrapeOrder(pods, now, stableWindowSeconds, this.random);
    const results: Stat[] = [];
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<boolean> => {
      while (next < order.length) {
        const pod = order[next++];
        try {
          results.push(await this.fetchStat(pod, this.timeoutMs));
          return true;
        } catch (err) {
          if (err instanceof ScrapeError && err.rejection) this.onRejected(err.rejection);
          // The reason without the pod's URL: the revision's error stays the same from one scrape to the next.
          failures.push(err instanceof ScrapeError ? err.reason : (err as Error).message);
        }
      }
      return false;
    };
    const done = await Promise.all(Array.from({ length: wanted }, worker));
    if (done.includes(false)) {
      // A stable message (Knative's errPodsExhausted), so the loop logs it once per change, not every second.
      return { kind: 'error', message: `too many pods failed scraping for meaningful interpolation: ${failures[0] ?? ''}` };
    }
    return { kind: 'stat', stat: aggregateScrapedStats(results, pods.length), sampled: results.length };
  }
}
