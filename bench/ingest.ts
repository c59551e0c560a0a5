import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/log.js';
import { StatClient } from '../src/metrics/statClient.js';
import { encodeBinaryFrame, type RevisionStat } from '../src/metrics/wireStats.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../src/service/liveAutoscaler.js';
import type { BenchResult } from './harness.js';

/**
 * Websocket ingest: the live service (stat server, protobuf decode, the
 * service's recordStat into each revision's collector, the 2 s tick) in this
 * process; the activators in a child process, so process.cpuUsage here is the
 * autoscaler's alone. The figure is counted server side: stats recorded
 * (kpa_stats_received_total{source="activator"}) per second of wall time.
 */
const REVISIONS = 1_000;
/** Stats per frame: an activator sends one frame per second holding a stat for each revision it fronts. */
const STATS_PER_FRAME = 100;
const WARMUP_MS = 1_000;
const MEASURE_MS = 4_000;
/** The child gives up on its own after this, whatever happens here. */
const CLIENT_LIMIT_MS = 30_000;
const CLIENT_MODE = 'ingest-client';

const key = (i: number) => ({ namespace: 'bench', name: `rev-${i}` });

/** Pre-encoded frames covering every revision once; the client cycles through them. */
function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let first = 0; first < REVISIONS; first += STATS_PER_FRAME) {
    const stats: RevisionStat[] = [];
    for (let i = first; i < Math.min(REVISIONS, first + STATS_PER_FRAME); i++) {
      stats.push({
        key: key(i),
        stat: {
          // Proxied counts are queue-proxy's (requests the activator forwarded); the activator reports none.
          podName: 'activator-0', averageConcurrentRequests: 1 + (i % 17), averageProxiedConcurrentRequests: 0,
          requestCount: 10 + (i % 13), proxiedRequestCount: 0, processUptime: 3600,
        },
      });
    }
    out.push(encodeBinaryFrame(stats));
  }
  return out;
}

/** The child: `connections` activators sending as fast as the server takes them (each awaits its socket write). */
async function client(url: string, connections: number): Promise<void> {
  const pool = frames();
  const clients = await Promise.all(Array.from({ length: connections }, () => StatClient.connect(url)));
  // Stopping exits at once: a graceful close would wait for the server to drain the sockets' buffered frames.
  process.on('message', () => process.exit(0));
  setTimeout(() => process.exit(0), CLIENT_LIMIT_MS).unref();
  process.send?.('ready');
  await Promise.all(clients.map(async (c, n) => {
    for (let f = n; c.open; f++) {
      await c.sendRaw(pool[f % pool.length]).catch(() => undefined);
      // A write to a socket with room completes without I/O: yield now and then, or the stop message never arrives.
      if (f % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }));
}

async function recorded(live: LiveAutoscaler): Promise<number> {
  const { values } = await live.metrics.statsReceived.get();
  return values.find((v) => v.labels.source === 'activator')?.value ?? 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ingest(connections: number): Promise<{ rate: number; cpu: number; unknown: number }> {
  const live = await startLiveAutoscaler({ logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0 });
  let child: ChildProcess | undefined;
  try {
    for (let i = 0; i < REVISIONS; i++) live.service.upsertRevision(key(i), {});
    child = fork(fileURLToPath(import.meta.url), [CLIENT_MODE, `ws://127.0.0.1:${live.statsPort}`, String(connections)], { stdio: 'inherit', execArgv: [] });
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit')])) as unknown[];
    if (message !== 'ready') throw new Error(`ingest client failed (exit ${String(message)})`);
    await sleep(WARMUP_MS);
    const count0 = await recorded(live);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await sleep(MEASURE_MS);
    const count1 = await recorded(live);
    const cpu = process.cpuUsage(cpu0);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { rate: (count1 - count0) / seconds, cpu: (cpu.user + cpu.system) / 1e6 / seconds, unknown: live.service.unknownRevisionStats };
  } finally {
    // The service first: it cuts the connections (1012, then terminate), dropping whatever the sockets still buffer.
    await live.close();
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.send('stop');
      await exited;
    }
  }
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const connections of [1, 50]) {
    const { rate, cpu, unknown } = await ingest(connections);
    if (unknown > 0) throw new Error(`${unknown} stats dropped as unknown revisions`);
    const label = `${connections} connection${connections === 1 ? '' : 's'}`;
    results.push(
      { name: `websocket ingest, ${label} (${STATS_PER_FRAME} stats/frame, protobuf)`, value: rate, unit: 'stats/s', goal: 200_000 },
      { name: `  autoscaler CPU during it (${label})`, value: cpu * 100, unit: '% of a core' },
      { name: `  stats per core-second (${label})`, value: rate / cpu, unit: 'stats/s', goal: 200_000 },
    );
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === CLIENT_MODE) {
  await client(process.argv[3], Number(process.argv[4]));
}
