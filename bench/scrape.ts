import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { type PodTarget, RevisionScraper, type ScrapeOutcome } from '../src/metrics/scraper.js';
import { encodeStat } from '../src/metrics/wireStats.js';
import { startLiveAutoscaler } from '../src/service/liveAutoscaler.js';
import type { BenchResult } from './harness.js';
import { childReply, stopChild } from './procs.js';

/**
 * One service scraping 1,000 revisions × 3 pods at the real 1 Hz, on the
 * system clock, through startLiveAutoscaler (scrape loop, fetch with
 * `Accept: application/protobuf`, protobuf decode, recordStat, the 2 s tick).
 * Three processes: this one only coordinates; the pods (one HTTP listener per
 * pod, each on its own 127.1.x.y address, as pod IPs are) run in one child,
 * the autoscaler in another, so its CPU and RSS are its own. Then the heap
 * an idle revision costs, in a child with --expose-gc.
 */
const REVISIONS = 1_000;
const PODS_PER_REVISION = 3;
const WARMUP_MS = 5_000;
const MEASURE_MS = 20_000;
const IDLE_REVISIONS = 10_000;
/** Ticks in 10 minutes: what an idle revision's decision history would hold if every tick were kept. */
const IDLE_TICKS = 300;
const CHILD_LIMIT_MS = 120_000;
const MODE = { pods: 'scrape-pods', autoscaler: 'scrape-autoscaler', heap: 'scrape-heap' } as const;

const key = (i: number) => ({ namespace: 'bench', name: `rev-${i}` });
const podAddress = (p: number) => `127.1.${1 + Math.floor(p / 250)}.${1 + (p % 250)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ScrapeFigures {
  cpu: number;
  scrapesPerSecond: number;
  failures: number;
  p50: number;
  p99: number;
  rssBaseline: number;
  rssStart: number;
  rssMax: number;
  /** Heap still live after a full GC at the end. */
  heapLive: number;
}

interface HeapFigures {
  registered: number;
  idle: number;
}

/** Child: `count` queue-proxies, each serving its protobuf Stat at http://<own address>:<port>/metrics. */
async function pods(count: number): Promise<void> {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (let p = 0; p < count; p++) {
    const body = encodeStat({
      podName: `pod-${p}`, averageConcurrentRequests: 1 + (p % 7), averageProxiedConcurrentRequests: 0,
      requestCount: 5 + (p % 11), proxiedRequestCount: 0, processUptime: 3600,
    });
    const server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/protobuf' }).end(body));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, podAddress(p), resolve);
    });
    servers.push(server);
    urls.push(`http://${podAddress(p)}:${(server.address() as AddressInfo).port}/metrics`);
  }
  process.on('message', () => process.exit(0));
  setTimeout(() => process.exit(0), CHILD_LIMIT_MS).unref();
  process.send?.(urls);
}

/** Times each revision's scrape (the same span the scrape loop's histogram sees, at a finer grain). */
class TimedScraper extends RevisionScraper {
  samples: number[] | null = null;
  failures = 0;

  override async scrape(pods: readonly PodTarget[], now: number, stableWindowSeconds: number): Promise<ScrapeOutcome> {
    const start = performance.now();
    const outcome = await super.scrape(pods, now, stableWindowSeconds);
    if (this.samples) {
      if (outcome.kind === 'stat') this.samples.push((performance.now() - start) / 1000);
      else this.failures++;
    }
    return outcome;
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Child: the autoscaler on the system clock with its real intervals (scrape 1 s, tick 2 s). */
async function autoscaler(urls: string[]): Promise<void> {
  setTimeout(() => process.exit(1), CHILD_LIMIT_MS).unref();
  const scraper = new TimedScraper();
  const live = await startLiveAutoscaler({ logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, scraper });
  const rssBaseline = process.memoryUsage().rss;
  const startedAt = Date.now() / 1000 - 3600;
  for (let i = 0; i < REVISIONS; i++) {
    live.service.upsertRevision(key(i), {});
    const podList = Array.from({ length: PODS_PER_REVISION }, (_, j) => {
      const p = i * PODS_PER_REVISION + j;
      return { name: `pod-${p}`, url: urls[p], startedAt };
    });
    live.service.setPods(key(i), podList);
  }
  await sleep(WARMUP_MS);
  scraper.samples = [];
  const rssStart = process.memoryUsage().rss;
  let rssMax = rssStart;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 250);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(MEASURE_MS);
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const samples = scraper.samples.sort((a, b) => a - b);
  global.gc?.();
  const figures: ScrapeFigures = {
    cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    scrapesPerSecond: samples.length / seconds,
    failures: scraper.failures,
    p50: quantile(samples, 0.5),
    p99: quantile(samples, 0.99),
    rssBaseline,
    rssStart,
    rssMax,
    heapLive: process.memoryUsage().heapUsed,
  };
  await live.close();
  process.send?.(figures, () => process.exit(0));
}

/** Child (--expose-gc): heap per revision registered with 3 pods and no traffic, then after 10 minutes of ticks. */
async function heap(): Promise<void> {
  const gc = global.gc;
  if (!gc) throw new Error('run with --expose-gc');
  const clock = new ManualClock(1_700_000_000);
  // The real service, timers off: ticks are driven here on the virtual clock.
  const live = await startLiveAutoscaler({
    logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0, tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
  });
  const heapUsed = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const before = heapUsed();
  for (let i = 0; i < IDLE_REVISIONS; i++) {
    const podList = Array.from({ length: PODS_PER_REVISION }, (_, j) => {
      const p = i * PODS_PER_REVISION + j;
      return { name: `rev-${i}-pod-${j}`, url: `http://10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}:9090/metrics`, startedAt: 0 };
    });
    live.service.upsertRevision(key(i), {});
    live.service.setPods(key(i), podList);
  }
  const registered = heapUsed();
  for (let t = 0; t < IDLE_TICKS; t++) {
    clock.advance(2);
    live.tick();
  }
  const idle = heapUsed();
  await live.close();
  const figures: HeapFigures = { registered: (registered - before) / IDLE_REVISIONS, idle: (idle - before) / IDLE_REVISIONS };
  process.send?.(figures, () => process.exit(0));
}

function child(mode: string, args: string[], execArgv: string[] = []): ChildProcess {
  return fork(fileURLToPath(import.meta.url), [mode, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
}

export async function run(): Promise<BenchResult[]> {
  const heapChild = child(MODE.heap, [], ['--expose-gc']);
  const perRevision = await childReply<HeapFigures>(heapChild, 'heap').finally(() => stopChild(heapChild));

  const podsChild = child(MODE.pods, [String(REVISIONS * PODS_PER_REVISION)]);
  let scrape: ScrapeFigures;
  try {
    const urls = await childReply<string[]>(podsChild, 'pod server');
    const autoscalerChild = child(MODE.autoscaler, [], ['--expose-gc']);
    autoscalerChild.send(urls);
    scrape = await childReply<ScrapeFigures>(autoscalerChild, 'autoscaler').finally(() => stopChild(autoscalerChild));
  } finally {
    await stopChild(podsChild);
  }
  const revs = `${REVISIONS.toLocaleString('en-US')} revisions × ${PODS_PER_REVISION} pods`;
  return [
    { name: `scraping ${revs} at 1 Hz: autoscaler CPU`, value: scrape.cpu * 100, unit: '% of a core' },
    { name: '  revisions scraped per second', value: scrape.scrapesPerSecond, unit: 'scrapes/s', goal: REVISIONS },
    // Where the loop falls behind 1 Hz, the CPU it would take to keep up: CPU per scrape × 1,000 scrapes/s.
    { name: `  CPU per ${REVISIONS.toLocaleString('en-US')} scrapes/s`, value: (scrape.cpu * 100 * REVISIONS) / scrape.scrapesPerSecond, unit: '% of a core', goal: 50, lowerIsBetter: true },
    { name: '  failed scrapes', value: scrape.failures, unit: '' },
    { name: '  scrape latency p50 (one revision, 3 pods)', value: scrape.p50 * 1000, unit: 'ms' },
    { name: '  scrape latency p99', value: scrape.p99 * 1000, unit: 'ms' },
    { name: '  RSS, idle service before the revisions', value: scrape.rssBaseline / 1e6, unit: 'MB' },
    { name: '  RSS after 5 s of scraping', value: scrape.rssStart / 1e6, unit: 'MB' },
    { name: `  RSS, highest over the next ${MEASURE_MS / 1000} s`, value: scrape.rssMax / 1e6, unit: 'MB' },
    { name: '  heap live after a full GC at the end', value: scrape.heapLive / 1e6, unit: 'MB' },
    { name: `heap per idle revision (${IDLE_REVISIONS.toLocaleString('en-US')}, 3 pods each), registered`, value: perRevision.registered / 1e3, unit: 'KB', goal: 10, lowerIsBetter: true },
    { name: `  after 10 min of ticks (${IDLE_TICKS} ticks)`, value: perRevision.idle / 1e3, unit: 'KB', goal: 10, lowerIsBetter: true },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2];
  if (mode === MODE.pods) await pods(Number(process.argv[3]));
  else if (mode === MODE.heap) await heap();
  else if (mode === MODE.autoscaler) {
    const [urls] = (await once(process, 'message')) as [string[]];
    await autoscaler(urls);
  }
}
