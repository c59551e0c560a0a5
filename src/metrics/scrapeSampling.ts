import { emptyStat, SCRAPER_POD_NAME, type Stat } from './stat.js';

/** Knative's sample-size constants: 95 % confidence, margin of error 5, assumed variance 100. */
const UNBOUNDED_SAMPLE_SIZE = (1.96 * 1.96 * 100) / (5 * 5);

/**
 * How many of `readyPods` pods to scrape (Knative's populationMeanSampleSize):
 * all of them up to 3, else ceil(N·X / (N + X − 1)) with X = 1.96²·100/5².
 */
export function sampleSize(readyPods: number): number {
  if (readyPods <= 3) return Math.max(readyPods, 0);
  return Math.ceil((readyPods * UNBOUNDED_SAMPLE_SIZE) / (readyPods + UNBOUNDED_SAMPLE_SIZE - 1));
}

export interface ScrapablePod {
  name: string;
  /** When the pod started (seconds since the epoch): pods younger than the stable window are scraped last. */
  startedAt: number;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * The order to try pods in (Knative's scrapePods): pods older than the stable
 * window first, since young pods' stats are skewed by their warm-up; when
 * there are enough old pods they are shuffled (any sample of them will do),
 * otherwise all old pods are used and the young ones shuffled to fill up. The
 * rest stay in the list as replacements for pods that fail.
 */
export function scrapeOrder<P extends ScrapablePod>(pods: readonly P[], now: number, stableWindowSeconds: number, random: () => number): P[] {
  const old: P[] = [];
  const young: P[] = [];
  for (const pod of pods) (now - pod.startedAt >= stableWindowSeconds ? old : young).push(pod);
  if (old.length < sampleSize(pods.length)) shuffle(young, random);
  else shuffle(old, random);
  return old.concat(young);
}

/**
 * The revision's stat from a sample of its pods (Knative's computeAverages):
 * the sample's sums divided by the sample size and multiplied by all ready
 * pods. Like Knative's Stat.add, process uptime is not combined (it is not
 * used for scaling, and a sum of uptimes means nothing).
 */
export function aggregateScrapedStats(sampled: readonly Stat[], readyPods: number): Stat {
  const total = emptyStat(SCRAPER_POD_NAME);
  for (const s of sampled) {
    total.averageConcurrentRequests += s.averageConcurrentRequests;
    total.averageProxiedConcurrentRequests += s.averageProxiedConcurrentRequests;
    total.requestCount += s.requestCount;
    total.proxiedRequestCount += s.proxiedRequestCount;
  }
  const n = sampled.length;
  if (n === 0) return total;
  total.averageConcurrentRequests = (total.averageConcurrentRequests / n) * readyPods;
  total.averageProxiedConcurrentRequests = (total.averageProxiedConcurrentRequests / n) * readyPods;
  total.requestCount = (total.requestCount / n) * readyPods;
  total.proxiedRequestCount = (total.proxiedRequestCount / n) * readyPods;
  return total;
}
