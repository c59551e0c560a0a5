import { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { resolveRevision } from '../src/config/revisionConfig.js';
import { MultiScaler, type RevisionAutoscaler } from '../src/decider/multiScaler.js';
import type { Stat } from '../src/metrics/stat.js';
import { replayStream } from '../src/recording/replayStream.js';
import { type BenchResult, medianSeconds, medianSecondsAsync } from './harness.js';

const REVISIONS = 10_000;
const SECONDS = 60;
const START = 1_700_000_000;

function stat(i: number, t: number): Stat {
  return {
    podName: 'service-scraper',
    averageConcurrentRequests: 50 + ((i * 7 + t * 13) % 100),
    averageProxiedConcurrentRequests: 0,
    requestCount: 100 + ((i + t) % 50),
    proxiedRequestCount: 0,
    processUptime: t,
  };
}

function revisions(weighted: boolean): RevisionAutoscaler[] {
  const scalers = new MultiScaler();
  const resolved = resolveRevision({
    annotations: weighted ? { 'autoscaling.knative.dev/metric-aggregation-algorithm': 'weighted-exponential' } : {},
  });
  const list: RevisionAutoscaler[] = [];
  for (let i = 0; i < REVISIONS; i++) list.push(scalers.upsert({ namespace: 'bench', name: `rev-${i}` }, resolved, START, 3));
  return list;
}

/** Stats recorded per second through MultiScaler.record (key lookup included), as the stat server does. */
function recordRate(): number {
  const scalers = new MultiScaler();
  const resolved = resolveRevision({});
  const keys = Array.from({ length: REVISIONS }, (_, i) => ({ namespace: 'bench', name: `rev-${i}` }));
  for (const key of keys) scalers.upsert(key, resolved, START, 3);
  const stats = keys.map((_, i) => stat(i, 0));
  const seconds = medianSeconds(() => {
    for (let t = 0; t < SECONDS; t++) {
      const now = START + t;
      for (let i = 0; i < REVISIONS; i++) scalers.record(keys[i], now, stats[i]);
    }
  });
  return (REVISIONS * SECONDS) / seconds;
}

/** Decisions per second: each revision ticks every 2 s over a minute of one stat per second. */
function decisionRate(weighted: boolean): number {
  const list = revisions(weighted);
  for (let t = 0; t < SECONDS; t++) for (let i = 0; i < REVISIONS; i++) list[i].record(START + t, stat(i, t));
  const now = START + SECONDS - 1;
  const seconds = medianSeconds(() => {
    for (let i = 0; i < REVISIONS; i++) list[i].tick(now);
  });
  return REVISIONS / seconds;
}

/** A one-day recording of one revision: a stat every second and a tick every 2 s (86,400 stats, 43,200 ticks). */
export function oneDayRecording(): string {
  const lines = [JSON.stringify({ type: 'revision', t: START, namespace: 'bench', name: 'day', config: {}, annotations: {}, ready: 1 })];
  for (let s = 0; s < 86_400; s++) {
    const t = START + s;
    const load = 100 + 80 * Math.sin((2 * Math.PI * s) / 86_400) + ((s * 7919) % 23);
    lines.push(`{"type":"stat","t":${t + 0.5},"namespace":"bench","name":"day","stat":{"podName":"service-scraper","averageConcurrentRequests":${load.toFixed(3)},"requestCount":${(load * 2).toFixed(3)}}}`);
    if (s % 2 === 1) lines.push(`{"type":"tick","t":${t + 1},"namespace":"bench","name":"day"}`);
  }
  return `${lines.join('\n')}\n`;
}

class CountingSink extends Writable {
  bytes = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.bytes += chunk.length;
    done();
  }
}

async function replaySeconds(): Promise<{ seconds: number; decisions: number }> {
  const text = Buffer.from(oneDayRecording());
  const chunks: Buffer[] = [];
  for (let i = 0; i < text.length; i += 64 * 1024) chunks.push(text.subarray(i, i + 64 * 1024));
  let decisions = 0;
  const seconds = await medianSecondsAsync(async () => {
    decisions = await replayStream(Readable.from(chunks), new CountingSink());
  }, 3);
  return { seconds, decisions };
}

export async function run(): Promise<BenchResult[]> {
  const replay = await replaySeconds();
  return [
    { name: `stats recorded (${REVISIONS} revisions)`, value: recordRate(), unit: 'stats/s', goal: 2_000_000, reference: 1_500_000 },
    { name: 'decisions, linear averaging', value: decisionRate(false), unit: 'decisions/s', goal: 700_000, reference: 600_000 },
    { name: 'decisions, weighted averaging', value: decisionRate(true), unit: 'decisions/s', goal: 500_000, reference: 470_000 },
    { name: `replay one day (${replay.decisions} ticks, 86400 stats)`, value: replay.seconds, unit: 's', goal: 1, reference: 1.0, lowerIsBetter: true },
    { name: 'replay speed', value: replay.decisions / replay.seconds, unit: 'lines/s' },
  ];
}
