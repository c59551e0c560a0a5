import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { encodeBinaryFrame } from '../src/metrics/wireStats.js';
import { AutoscalerService } from '../src/service/autoscalerService.js';
import { startLiveAutoscaler } from '../src/service/liveAutoscaler.js';
import type { BenchResult } from './harness.js';
import { childReply, pinningAvailable, stopChild } from './procs.js';

/**
 * The soak (issue 15): the live service for SOAK_SECONDS (default 10 min) at
 * 1,000 revisions, half scraped from 1,500 fake queue-proxies at 1 Hz, half
 * fed by activators flooding the websocket as fast as it takes them, while
 * readers hit /api/revisions and /metrics with 500 concurrent requests every
 * 10 s. Four processes (pods, activators, readers, autoscaler), so each one's
 * CPU and memory are its own; the autoscaler pinned to a core of its own. Reports heap and RSS over time, tick lateness
 * and reader latency. Then, in virtual time, the reproduction of memory not
 * coming back: 10,000 revisions at 1 stat/s for 10 minutes, then idle.
 */
const REVISIONS = 1_000;
const SCRAPED = REVISIONS / 2;
const PODS_PER_REVISION = 3;
const SOAK_SECONDS = Number(process.env.KPA_SOAK_SECONDS ?? 600);
const READ_EVERY_MS = 10_000;
const READERS = 500;
const SAMPLE_EVERY_MS = 30_000;
/** Every child gives up on its own after this. */
const CHILD_LIMIT_MS = (SOAK_SECONDS + 120) * 1000;
const MODE = { autoscaler: 'soak-autoscaler', activators: 'soak-activators', readers: 'soak-readers', memory: 'soak-memory' } as const;

const key = (i: number) => ({ namespace: 'soak', name: `rev-${i}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Sample {
  at: number;
  heap: number;
  rss: number;
}

interface SoakFigures {
  samples: Sample[];
  tickLateness: number[];
  statsPerSecond: number;
  pauses: number;
  cpu: number;
  heapBaseline: number;
}

/** Child: the autoscaler, with its revisions; reports samples and figures when told to stop. */
async function autoscaler(urls: string[]): Promise<void> {
  setTimeout(() => process.exit(1), CHILD_LIMIT_MS).unref();
  const live = await startLiveAutoscaler({ logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0 });
  for (let i = 0; i < REVISIONS; i++) {
    if (i < SCRAPED) {
      const pods = urls.slice(i * PODS_PER_REVISION, (i + 1) * PODS_PER_REVISION).map((url, p) => ({ name: `pod-${i}-${p}`, url, startedAt: 0 }));
      live.service.upsertRevision(key(i), {}, pods);
    } else live.service.upsertRevision(key(i), {}, [], 'activator');
  }
  global.gc?.();
  const heapBaseline = process.memoryUsage().heapUsed;
  const ticks: number[] = [];
  const probe = key(0).name;
  live.service.onDecision((k) => {
    if (k.name === probe) ticks.push(performance.now());
  });
  const samples: Sample[] = [];
  const t0 = performance.now();
  const sample = (): void => {
    const m = process.memoryUsage();
    samples.push({ at: (performance.now() - t0) / 1000, heap: m.heapUsed, rss: m.rss });
  };
  const sampler = setInterval(sample, SAMPLE_EVERY_MS);
  const cpu0 = process.cpuUsage();
  const stats0 = live.statServer.counters.stats;
  process.send?.({ httpPort: live.httpPort, statsPort: live.statsPort });
  await once(process, 'message');
  clearInterval(sampler);
  sample();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const figures: SoakFigures = {
    samples,
    tickLateness: ticks.slice(1).map((t, i) => Math.abs(t - ticks[i] - 2000)).filter((late) => late < 1000),
    statsPerSecond: (live.statServer.counters.stats - stats0) / seconds,
    pauses: live.statServer.counters.pauses,
    cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    heapBaseline,
  };
  process.send?.(figures, () => process.exit(0));
}

/** Child: two activators flooding the websocket with stats for the activator-fed revisions. */
async function activators(statsPort: number): Promise<void> {
  setTimeout(() => process.exit(0), CHILD_LIMIT_MS).unref();
  const frames = [0, 1, 2].map((shift) => encodeBinaryFrame(Array.from({ length: REVISIONS - SCRAPED }, (_, i) => ({
    key: key(SCRAPED + i),
    stat: {
      podName: 'activator-0', averageConcurrentRequests: 1 + ((i + shift) % 13), averageProxiedConcurrentRequests: 0,
      requestCount: 3 + ((i + shift) % 7), proxiedRequestCount: 0, processUptime: 3600,
    },
  }))));
  let running = true;
  process.on('message', () => {
    running = false;
  });
  await Promise.all([0, 1].map(async (n) => {
    const ws = new WebSocket(`ws://127.0.0.1:${statsPort}`);
    await once(ws, 'open');
    for (let f = n; running; f++) {
      await new Promise((resolve) => ws.send(frames[f % frames.length], resolve));
      if (f % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    ws.terminate();
  }));
  process.exit(0);
}

/**
 * Child: every 10 s, 500 concurrent GETs of /api/revisions, then of /metrics,
 * as Prometheus and browsers ask (gzip accepted); replies with the time to the
 * last byte of each. node:http, reading and dropping the body: the client's own
 * work stays small, so the figure is the server's.
 */
async function readers(httpPort: number): Promise<void> {
  setTimeout(() => process.exit(0), CHILD_LIMIT_MS).unref();
  const latencies = { api: [] as number[], metrics: [] as number[] };
  let running = true;
  process.on('message', () => {
    running = false;
  });
  const agent = new Agent({ keepAlive: true, maxSockets: READERS });
  const get = (path: string): Promise<number> => new Promise((resolve) => {
    const start = performance.now();
    const req = request({ host: '127.0.0.1', port: httpPort, path, agent, headers: { 'accept-encoding': 'gzip' } }, (res) => {
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - start : Infinity));
      res.resume();
    });
    req.on('error', () => resolve(Infinity));
    req.end();
  });
  const burst = async (path: string, into: number[]): Promise<void> => {
    into.push(...await Promise.all(Array.from({ length: READERS }, () => get(path))));
  };
  while (running) {
    await burst('/api/revisions', latencies.api);
    await burst('/metrics', latencies.metrics);
    for (let waited = 0; running && waited < READ_EVERY_MS; waited += 250) await sleep(250);
  }
  process.send?.(latencies, () => process.exit(0));
}

/**
 * The autoscaler gets CPU 0 to itself, its load (pods, activators, readers)
 * shares CPU 1: on a 2-core machine the readers would otherwise measure their
 * own starvation. Every thread of the process, pinned after the fork.
 */
function pin(proc: ChildProcess, cpu: number): void {
  if (pinningAvailable && proc.pid !== undefined) spawnSync('taskset', ['-a', '-pc', String(cpu), String(proc.pid)], { stdio: 'ignore' });
}

function child(mode: string, args: string[], execArgv: string[] = [], cpu = 1): ChildProcess {
  const proc = fork(fileURLToPath(import.meta.url), [mode, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  pin(proc, cpu);
  return proc;
}

/**
 * Issue 15's memory reproduction in virtual time: 10,000 revisions at one
 * activator stat a second for 10 minutes, then idle for a stable window plus
 * the history's age. Heap (after a full GC) per revision at each point.
 */
interface MemoryFigures {
  before: number;
  loaded: number;
  after: number;
  perActive: number;
  perIdle: number;
}

function memoryByAge(): MemoryFigures {
  const gc = global.gc ?? (() => undefined);
  const heap = (): number => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const n = 10_000;
  const clock = new ManualClock(1_700_000_000);
  const h0 = heap();
  const service = new AutoscalerService({ clock, logger: silentLogger() });
  const keys = Array.from({ length: n }, (_, i) => ({ namespace: 'mem', name: `rev-${i}` }));
  for (const k of keys) service.upsertRevision(k, {}, [], 'activator');
  const before = heap();
  const stat = (c: number) => ({ podName: 'a', averageConcurrentRequests: c, averageProxiedConcurrentRequests: 0, requestCount: c, proxiedRequestCount: 0, processUptime: 1 });
  const run = (seconds: number, load: boolean): void => {
    for (let s = 0; s < seconds; s++) {
      clock.advance(1);
      if (load) keys.forEach((k, i) => service.recordStat(k, stat(1 + ((s + i) % 50)), 'activator'));
      if (clock.now() % 2 === 0) service.tick();
    }
  };
  run(600, true);
  const loaded = heap();
  run(60 + 600, false);
  const after = heap();
  return { before, loaded, after, perActive: (loaded - h0) / n, perIdle: (after - h0) / n };
}

export async function run(): Promise<BenchResult[]> {
  const memoryChild = child(MODE.memory, [], ['--expose-gc']);
  const memory = await childReply<MemoryFigures>(memoryChild, 'memory').finally(() => stopChild(memoryChild));
  const podsChild = fork(fileURLToPath(new URL('./scrape.js', import.meta.url)), ['scrape-pods', String(SCRAPED * PODS_PER_REVISION)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  pin(podsChild, 1);
  let soak: SoakFigures;
  let reads: { api: number[]; metrics: number[] };
  try {
    const urls = await childReply<string[]>(podsChild, 'pod server');
    const service = child(MODE.autoscaler, [], ['--expose-gc'], 0);
    try {
      service.send(urls);
      const ports = await childReply<{ httpPort: number; statsPort: number }>(service, 'autoscaler');
      const flood = child(MODE.activators, [String(ports.statsPort)]);
      const readersChild = child(MODE.readers, [String(ports.httpPort)]);
      await sleep(SOAK_SECONDS * 1000);
      const readsReply = childReply<{ api: number[]; metrics: number[] }>(readersChild, 'readers');
      readersChild.send('stop');
      reads = await readsReply;
      await stopChild(flood);
      const soakReply = childReply<SoakFigures>(service, 'autoscaler');
      service.send('stop');
      soak = await soakReply;
    } finally {
      await stopChild(service);
    }
  } finally {
    await stopChild(podsChild);
  }
  const mb = (b: number) => b / 1e6;
  const at = (minute: number) => soak.samples.find((s) => s.at >= minute * 60 - 1) ?? soak.samples.at(-1)!;
  const heaps = soak.samples.map((s) => s.heap);
  const rsses = soak.samples.map((s) => s.rss);
  const minutes = `${(SOAK_SECONDS / 60).toFixed(SOAK_SECONDS % 60 === 0 ? 0 : 1)} min`;
  return [
    { name: `soak, ${REVISIONS.toLocaleString('en-US')} revisions for ${minutes}: websocket stats taken`, value: soak.statsPerSecond, unit: 'stats/s' },
    { name: '  autoscaler CPU', value: soak.cpu * 100, unit: '% of a core' },
    { name: '  times the stats sockets were paused (decoding behind)', value: soak.pauses, unit: '' },
    { name: '  tick lateness p99 (|period − 2 s|)', value: quantile(soak.tickLateness, 0.99), unit: 'ms', goal: 100, lowerIsBetter: true },
    { name: `  /api/revisions p99, ${READERS} concurrent`, value: quantile(reads.api, 0.99), unit: 'ms', goal: 100, lowerIsBetter: true },
    { name: `  /metrics p99, ${READERS} concurrent`, value: quantile(reads.metrics, 0.99), unit: 'ms', goal: 100, lowerIsBetter: true },
    { name: '  heap: registered, before load', value: mb(soak.heapBaseline), unit: 'MB' },
    { name: '  heap after 1 min', value: mb(at(1).heap), unit: 'MB' },
    { name: '  heap, highest sample (every 30 s)', value: mb(Math.max(...heaps)), unit: 'MB' },
    { name: '  heap at the end', value: mb(heaps.at(-1)!), unit: 'MB' },
    { name: '  RSS after 1 min', value: mb(at(1).rss), unit: 'MB' },
    { name: '  RSS, highest sample', value: mb(Math.max(...rsses)), unit: 'MB' },
    { name: '  RSS at the end', value: mb(rsses.at(-1)!), unit: 'MB' },
    { name: 'memory, 10,000 revisions at 1 stat/s for 10 min: per active revision', value: memory.perActive / 1e3, unit: 'KB', goal: 20, lowerIsBetter: true },
    { name: '  per revision after 11 min idle (stable window + history age)', value: memory.perIdle / 1e3, unit: 'KB', goal: 5, lowerIsBetter: true },
    // The goal: back within 20 % of the size before the load.
    { name: '  heap after idle ÷ heap before load', value: memory.after / memory.before, unit: '×', goal: 1.2, lowerIsBetter: true },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2];
  if (mode === MODE.autoscaler) {
    const [urls] = (await once(process, 'message')) as [string[]];
    await autoscaler(urls);
  } else if (mode === MODE.activators) await activators(Number(process.argv[3]));
  else if (mode === MODE.readers) await readers(Number(process.argv[3]));
  else if (mode === MODE.memory) process.send?.(memoryByAge(), () => process.exit(0));
}
