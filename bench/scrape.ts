import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { encodeStat } from '../src/metrics/wireStats.js';
import { startLiveAutoscaler } from '../src/service/liveAutoscaler.js';
import { type BenchResult, medianOf } from './harness.js';
import { childReply, cpuSeconds, stopChild } from './procs.js';

/**
 * The service scraping 1,000 and 3,000 revisions × 3 pods at the real 1 Hz,
 * on the system clock, through startLiveAutoscaler (the scrape loop, the pods'
 * connections, protobuf decode, recordStat, the 2 s tick). Three processes:
 * this one only coordinates; the pods (one HTTP listener per pod, each on its
 * own 127.1.x.y address, as pod IPs are) run in one child, the autoscaler in
 * another, so its CPU and RSS are its own. The autoscaler child imports the
 * service from a build's dist directory: this build's, and, where
 * KPA_BENCH_SCRAPE_BASELINE names another build's dist (main's, say), that one
 * too, side by side in the same run on the same pods. Then the heap an idle
 * revision costs, in a child with --expose-gc.
 */
const REVISION_COUNTS = [1_000, 3_000];
const PODS_PER_REVISION = 3;
/** Seconds of warm-up and of measurement per run (KPA_BENCH_SCRAPE_SECONDS="warm-up,measure"). */
const [WARMUP_S, MEASURE_S] = (process.env.KPA_BENCH_SCRAPE_SECONDS ?? '10,20').split(',').map(Number);
/** Runs of each configuration (KPA_BENCH_SCRAPE_ROUNDS); the figures are their medians, with the spread. */
const ROUNDS = Math.max(1, Number(process.env.KPA_BENCH_SCRAPE_ROUNDS ?? 1));
const BASELINE = process.env.KPA_BENCH_SCRAPE_BASELINE;
const IDLE_REVISIONS = 10_000;
/** Ticks in 10 minutes: what an idle revision's decision history would hold if every tick were kept. */
const IDLE_TICKS = 300;
const CHILD_LIMIT_MS = 600_000;
const MODE = { pods: 'scrape-pods', autoscaler: 'scrape-autoscaler', heap: 'scrape-heap' } as const;
const THIS_BUILD = fileURLToPath(new URL('..', import.meta.url));

const key = (i: number) => ({ namespace: 'bench', name: `rev-${i}` });
const podAddress = (p: number) => `127.1.${1 + Math.floor(p / 250)}.${1 + (p % 250)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ScrapeFigures {
  /** CPU of the whole autoscaler process, in cores. */
  cpu: number;
  scrapesPerSecond: number;
  /** Revision-seconds with at least one stat, and with exactly one, of all revision-seconds measured. */
  withStat: number;
  exactlyOne: number;
  scrapeP50: number;
  scrapeP99: number;
  /** NaN (null once through IPC) where the build has no per-revision schedule to be late against. */
  latenessP50: number | null;
  latenessP99: number | null;
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

function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** What the child uses of a build's service: the parts every build since the scrape loop has. */
interface BuildUnderTest {
  startLiveAutoscaler: typeof startLiveAutoscaler;
  silentLogger: typeof silentLogger;
}

/**
 * Child: the service of the build in `dist` on the system clock with its real
 * intervals (scrape 1 s, tick 2 s), scraping `revisions` × 3 of the pods.
 * Each stat is counted in its second by wrapping the service's recordStat,
 * and scrape and lateness samples are taken by wrapping their histograms'
 * observe, so the build runs as shipped.
 */
async function autoscaler(dist: string, revisions: number, urls: string[]): Promise<void> {
  setTimeout(() => process.exit(1), CHILD_LIMIT_MS).unref();
  const build: BuildUnderTest = {
    ...(await import(`${dist}/src/service/liveAutoscaler.js`) as Pick<BuildUnderTest, 'startLiveAutoscaler'>),
    ...(await import(`${dist}/src/log.js`) as Pick<BuildUnderTest, 'silentLogger'>),
  };
  const live = await build.startLiveAutoscaler({ logger: build.silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0 });
  const rssBaseline = process.memoryUsage().rss;
  const startedAt = Date.now() / 1000 - 3600;
  for (let i = 0; i < revisions; i++) {
    live.service.upsertRevision(key(i), {});
    const podList = Array.from({ length: PODS_PER_REVISION }, (_, j) => {
      const p = i * PODS_PER_REVISION + j;
      return { name: `pod-${p}`, url: urls[p], startedAt };
    });
    live.service.setPods(key(i), podList);
  }
  let measuring = false;
  const scrapeSamples: number[] = [];
  const latenessSamples: number[] = [];
  const observe = (histogram: { observe: (...args: never[]) => void } | undefined, samples: number[]) => {
    if (!histogram) return;
    const original = histogram.observe.bind(histogram) as (...args: unknown[]) => void;
    histogram.observe = ((...args: unknown[]) => {
      const value = args[args.length - 1];
      const ok = args.length === 1 || (args[0] as { result?: string }).result !== 'error';
      if (measuring && ok && typeof value === 'number') samples.push(value);
      original(...args);
    }) as never;
  };
  const metrics = live.metrics as unknown as Record<string, { observe: (...args: never[]) => void } | undefined>;
  observe(metrics.scrapeSeconds, scrapeSamples);
  observe(metrics.scrapeLateness, latenessSamples);
  await sleep(WARMUP_S * 1000);
  // Whole seconds only: the first starts at the next second's edge.
  await sleep(1000 - (Date.now() % 1000));
  const firstSecond = Math.floor(Date.now() / 1000);
  const perSecond = new Uint8Array(revisions * MEASURE_S);
  const recordStat = live.service.recordStat.bind(live.service);
  live.service.recordStat = (k, stat, source) => {
    const second = Math.floor(Date.now() / 1000) - firstSecond;
    if (source === 'scraper' && second >= 0 && second < MEASURE_S) {
      const i = Number(k.name.slice(4)) * MEASURE_S + second;
      perSecond[i] = Math.min(255, perSecond[i] + 1);
    }
    return recordStat(k, stat, source);
  };
  measuring = true;
  const rssStart = process.memoryUsage().rss;
  let rssMax = rssStart;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 250);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(MEASURE_S * 1000);
  const cpu = process.cpuUsage(cpu0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  measuring = false;
  clearInterval(sampler);
  let withStat = 0;
  let exactlyOne = 0;
  for (const n of perSecond) {
    if (n > 0) withStat++;
    if (n === 1) exactlyOne++;
  }
  const scrapes = Float64Array.from(scrapeSamples).sort();
  const lateness = Float64Array.from(latenessSamples).sort();
  global.gc?.();
  const figures: ScrapeFigures = {
    cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    scrapesPerSecond: scrapes.length / seconds,
    withStat: withStat / perSecond.length,
    exactlyOne: exactlyOne / perSecond.length,
    scrapeP50: quantile(scrapes, 0.5),
    scrapeP99: quantile(scrapes, 0.99),
    latenessP50: quantile(lateness, 0.5),
    latenessP99: quantile(lateness, 0.99),
    rssBaseline,
    rssStart,
    rssMax,
    heapLive: process.memoryUsage().heapUsed,
  };
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

interface ScrapeRun extends ScrapeFigures {
  /** CPU of the pods' process over the same time, in cores: whether the pods kept up. */
  podsCpu: number;
}

async function scrapeRun(dist: string, revisions: number, urls: string[], podsPid: number): Promise<ScrapeRun> {
  const autoscalerChild = child(MODE.autoscaler, [dist, String(revisions)], ['--expose-gc']);
  autoscalerChild.send(urls);
  const pods0 = cpuSeconds(podsPid);
  const t0 = performance.now();
  const figures = await childReply<ScrapeFigures>(autoscalerChild, 'autoscaler').finally(() => stopChild(autoscalerChild));
  // The pods' CPU over the whole run (warm-up included): the autoscaler's start-up is idle time for them.
  const podsCpu = (cpuSeconds(podsPid) - pods0) / ((performance.now() - t0) / 1000);
  return { ...figures, podsCpu };
}

const pct = (x: number) => x * 100;

/** The rows of one configuration: this build's medians, and the baseline's beside them where one was run. */
function rows(revisions: number, after: ScrapeRun[], before: ScrapeRun[]): BenchResult[] {
  const label = `${revisions.toLocaleString('en-US')} revisions × ${PODS_PER_REVISION} pods`;
  const out: BenchResult[] = [];
  const add = (name: string, unit: string, pick: (r: ScrapeRun) => number, extra: Partial<BenchResult> = {}) => {
    for (const [build, runs] of [['', after], [' (baseline)', before]] as const) {
      if (runs.length === 0) continue;
      // NaN crosses IPC as null: a figure the build does not have.
      const values = runs.map(pick).map((v) => (v === null ? NaN : v));
      if (values.every(Number.isNaN)) continue;
      const { value, spread } = medianOf(values);
      out.push({ name: `${name}${build}`, value, unit, ...(runs.length > 1 ? { spread } : {}), ...(build ? {} : extra) });
    }
  };
  add(`scraping ${label} at 1 Hz: kpa CPU`, '% of a core', (r) => pct(r.cpu), revisions === 3_000 ? { goal: 100, lowerIsBetter: true } : {});
  add('  revision-seconds with a stat', '%', (r) => pct(r.withStat), { goal: 100 });
  add('  revision-seconds with exactly one stat', '%', (r) => pct(r.exactlyOne), { goal: 100 });
  add('  revisions scraped per second', 'scrapes/s', (r) => r.scrapesPerSecond, { goal: revisions });
  const ms = (seconds: number | null) => (seconds === null ? NaN : seconds * 1000);
  add('  lateness p50 (scheduled time to stat)', 'ms', (r) => ms(r.latenessP50));
  add('  lateness p99', 'ms', (r) => ms(r.latenessP99), { goal: 500, lowerIsBetter: true });
  add('  scrape latency p50 (one revision, 3 pods)', 'ms', (r) => r.scrapeP50 * 1000);
  add('  scrape latency p99', 'ms', (r) => r.scrapeP99 * 1000);
  add('  RSS, idle service before the revisions', 'MB', (r) => r.rssBaseline / 1e6);
  add(`  RSS after ${WARMUP_S} s of scraping`, 'MB', (r) => r.rssStart / 1e6);
  add(`  RSS, highest over the next ${MEASURE_S} s`, 'MB', (r) => r.rssMax / 1e6, revisions === 3_000 ? { goal: 400, lowerIsBetter: true } : {});
  add('  heap live after a full GC at the end', 'MB', (r) => r.heapLive / 1e6);
  add('  the pods\' process CPU (all pods, one process)', '% of a core', (r) => pct(r.podsCpu));
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const heapChild = child(MODE.heap, [], ['--expose-gc']);
  const perRevision = await childReply<HeapFigures>(heapChild, 'heap').finally(() => stopChild(heapChild));

  const most = Math.max(...REVISION_COUNTS);
  const podsChild = child(MODE.pods, [String(most * PODS_PER_REVISION)]);
  const results: BenchResult[] = [];
  try {
    const urls = await childReply<string[]>(podsChild, 'pod server');
    for (const revisions of REVISION_COUNTS) {
      const after: ScrapeRun[] = [];
      const before: ScrapeRun[] = [];
      // Alternating the builds, so that what else the machine runs weighs on both alike.
      for (let round = 0; round < ROUNDS; round++) {
        after.push(await scrapeRun(THIS_BUILD, revisions, urls, podsChild.pid!));
        if (BASELINE) before.push(await scrapeRun(BASELINE, revisions, urls, podsChild.pid!));
      }
      results.push(...rows(revisions, after, before));
    }
  } finally {
    await stopChild(podsChild);
  }
  return [
    ...results,
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
    await autoscaler(process.argv[3], Number(process.argv[4]), urls);
  }
}
