import { aggregateScrapedStats, sampleSize, type ScrapablePod, scrapeOrder } from './scrapeSampling.js';
import { statFromPrometheusText } from './prometheusText.js';
import type { Stat } from './stat.js';
import { decodeStat } from './wireStats.js';

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
  constructor(readonly url: string, readonly reason: string) {
    super(`${url}: ${reason}`);
    this.name = 'ScrapeError';
  }
}

export const PROTOBUF_MIME = 'application/protobuf';
export const DEFAULT_SCRAPE_TIMEOUT_MS = 3000;

/**
 * GETs one pod's stat: protobuf for `Accept: application/protobuf` (what
 * queue-proxy serves), or the Prometheus text exposition where a pod serves
 * that instead. Node's fetch keeps connections alive between scrapes.
 */
export async function fetchPodStat(pod: PodTarget, timeoutMs: number): Promise<Stat> {
  let response: Response;
  try {
    response = await fetch(pod.url, {
      headers: { accept: `${PROTOBUF_MIME}, text/plain;q=0.5` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error;
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause as Error | undefined)?.message ?? e.message;
    throw new ScrapeError(pod.url, reason);
  }
  try {
    if (response.status < 200 || response.status >= 300) throw new ScrapeError(pod.url, `HTTP status ${response.status}`);
    const type = (response.headers.get('content-type') ?? '').split(';')[0].trim();
    const body = new Uint8Array(await response.arrayBuffer());
    if (type === PROTOBUF_MIME) return decodeStat(body);
    if (type === 'text/plain') return statFromPrometheusText(new TextDecoder().decode(body), pod.name);
    throw new ScrapeError(pod.url, `unexpected content type ${JSON.stringify(type)}`);
  } catch (err) {
    if (err instanceof ScrapeError) throw err;
    throw new ScrapeError(pod.url, (err as Error).message);
  } finally {
    if (!response.bodyUsed) await response.body?.cancel().catch(() => undefined);
  }
}

export interface RevisionScraperOptions {
  timeoutMs?: number;
  random?: () => number;
  /** Replaceable for tests and the simulator's in-memory pods. */
  fetchStat?: (pod: PodTarget, timeoutMs: number) => Promise<Stat>;
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

  constructor(options: RevisionScraperOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    this.fetchStat = options.fetchStat ?? fetchPodStat;
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
