import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { StatClient, StatSender } from '../src/metrics/statClient.js';
import { FORWARDED_BY_HEADER, StatServer } from '../src/metrics/statServer.js';
import { encodeBinaryFrame, type RevisionStat } from '../src/metrics/wireStats.js';
import { StatForwarder } from '../src/sharding/statForwarder.js';
import { type BenchResult, medianOf } from './harness.js';

/**
 * Stat forwarding (Knative's statforwarder): activators in a child process
 * send to a replica that owns none of the revisions; its forwarder sends
 * every stat on to the owner's stat server. Both replicas' servers run in
 * this process, so the CPU figure is the non-owner's and the owner's decode
 * together. Throughput: stats arriving at the owner per second. Latency:
 * stats stamped with the send time (in their pod name) at 10,000 a second,
 * from the activator's send to the owner's decode, through the non-owner
 * and straight to the owner in the same run.
 */
const REVISIONS = 1_000;
const STATS_PER_FRAME = 100;
const MEASURE_MS = 4_000;
const CLIENT_MODE = 'forwarding-client';
const now = () => performance.timeOrigin + performance.now();

function frame(first: number, podName: string): Uint8Array {
  const stats: RevisionStat[] = [];
  for (let i = first; i < first + STATS_PER_FRAME; i++) {
    stats.push({
      key: { namespace: 'bench', name: `rev-${i % REVISIONS}` },
      stat: { podName, averageConcurrentRequests: 1 + (i % 17), averageProxiedConcurrentRequests: 0, requestCount: 10, proxiedRequestCount: 0, processUptime: 3600 },
    });
  }
  return encodeBinaryFrame(stats);
}

/** The child: as fast as the socket takes frames (`flood`), or one stamped frame every 10 ms (`paced`). */
async function client(url: string, mode: 'flood' | 'paced'): Promise<void> {
  const c = await StatClient.connect(url);
  process.on('message', () => process.exit(0));
  setTimeout(() => process.exit(0), 30_000).unref();
  process.send?.('ready');
  if (mode === 'paced') {
    setInterval(() => void c.sendRaw(frame(0, `t${now()}`)).catch(() => undefined), 10);
    return;
  }
  const pool = Array.from({ length: REVISIONS / STATS_PER_FRAME }, (_, f) => frame(f * STATS_PER_FRAME, 'activator-0'));
  for (let f = 0; c.open; f++) {
    await c.sendRaw(pool[f % pool.length]).catch(() => undefined);
    if (f % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

async function withClient<T>(url: string, mode: 'flood' | 'paced', measure: () => Promise<T>): Promise<T> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [CLIENT_MODE, url, mode], { stdio: 'inherit', execArgv: [] });
  try {
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit')])) as unknown[];
    if (message !== 'ready') throw new Error(`forwarding client failed (exit ${String(message)})`);
    return await measure();
  } finally {
    if (child.exitCode === null) {
      const exited = once(child, 'exit');
      child.send('stop');
      await exited;
    }
  }
}

interface Pair {
  nonOwner: StatServer;
  owner: StatServer;
  forwarder: StatForwarder;
  arrived: () => number;
  latencies: number[];
  close(): Promise<void>;
}

async function pair(): Promise<Pair> {
  let arrived = 0;
  const latencies: number[] = [];
  const owner = await StatServer.start({
    host: '127.0.0.1', port: 0, logger: silentLogger(),
    onStats: (stats) => {
      arrived += stats.length;
      const t = now();
      for (const s of stats) if (s.stat.podName.startsWith('t')) latencies.push(t - Number(s.stat.podName.slice(1)));
    },
  });
  let forwarder: StatForwarder | null = null;
  const nonOwner = await StatServer.start({ host: '127.0.0.1', port: 0, logger: silentLogger(), onStats: (s, fwd) => forwarder!.route(s, fwd) });
  forwarder = new StatForwarder({
    bucketOf: () => 'kpa-bucket-00-of-01', holderOf: () => 'owner_127.0.0.1', self: 'non-owner_127.0.0.2', clock: systemClock, logger: silentLogger(),
    recordLocally: () => undefined,
    connect: () => new StatSender({ url: `ws://127.0.0.1:${owner.port}/`, headers: { [FORWARDED_BY_HEADER]: 'non-owner' } }),
  });
  return {
    nonOwner, owner, forwarder, arrived: () => arrived, latencies,
    async close() {
      await forwarder!.close();
      await nonOwner.close();
      await owner.close();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function run(): Promise<BenchResult[]> {
  const throughput: number[] = [];
  const perCore: number[] = [];
  for (let round = 0; round < 3; round++) {
    const p = await pair();
    try {
      await withClient(`ws://127.0.0.1:${p.nonOwner.port}/`, 'flood', async () => {
        await sleep(1000);
        const n0 = p.arrived();
        const cpu0 = process.cpuUsage();
        const t0 = now();
        await sleep(MEASURE_MS);
        const cpu = process.cpuUsage(cpu0);
        const seconds = (now() - t0) / 1000;
        throughput.push((p.arrived() - n0) / seconds);
        perCore.push((p.arrived() - n0) / ((cpu.user + cpu.system) / 1e6));
      });
      const dropped = Object.values(p.forwarder.counters.dropped).reduce((a, b) => a + b, 0);
      if (dropped > 0) throw new Error(`the forwarder dropped ${dropped} stats`);
    } finally {
      await p.close();
    }
  }
  // Latency at 10,000 stats/s: straight to the owner, then through the non-owner, in the same run.
  const latency = async (via: 'owner' | 'nonOwner') => {
    const p = await pair();
    try {
      await withClient(`ws://127.0.0.1:${(via === 'owner' ? p.owner : p.nonOwner).port}/`, 'paced', async () => {
        await sleep(1000);
        p.latencies.length = 0;
        await sleep(MEASURE_MS);
      });
      const sorted = [...p.latencies].sort((a, b) => a - b);
      return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
    } finally {
      await p.close();
    }
  };
  const direct = await latency('owner');
  const forwarded = await latency('nonOwner');
  const t = medianOf(throughput);
  const c = medianOf(perCore);
  return [
    { name: `stat forwarding through a non-owner replica (1 activator connection, ${STATS_PER_FRAME} stats/frame; median of 3)`, value: t.value, unit: 'stats/s', spread: t.spread },
    { name: '  per CPU-second of the non-owner and the owner together', value: c.value, unit: 'stats/s', spread: c.spread },
    { name: '  send to decode at the owner, p50: direct / forwarded (10,000 stats/s)', value: forwarded.p50, unit: `ms (direct ${direct.p50.toFixed(2)} ms)`, lowerIsBetter: true },
    { name: '  send to decode at the owner, p99: direct / forwarded', value: forwarded.p99, unit: `ms (direct ${direct.p99.toFixed(2)} ms)`, lowerIsBetter: true, goal: direct.p99 + 50 },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === CLIENT_MODE) {
  await client(process.argv[3], process.argv[4] as 'flood' | 'paced');
}
