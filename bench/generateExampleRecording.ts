/**
 * Writes simulations/example-recording.jsonl: ten minutes of two revisions as
 * the live service would record them — a concurrency-scaled `checkout` that
 * takes a flash crowd at minute 4, and an RPS-scaled `search` on a slow ramp.
 * Ready pods follow the decisions with a 6 s cold start, so the recording
 * shows scale-up, panic on the burst and the rate-limited scale-down after.
 * Deterministic: run `node dist/bench/generateExampleRecording.js > FILE`.
 */
import { resolveRevision } from '../src/config/revisionConfig.js';
import { Replayer } from '../src/recording/replayer.js';
import type { RecordingEvent } from '../src/recording/events.js';

const START = 1_700_000_000;
const DURATION = 600;
const COLD_START = 6;

interface Revision {
  name: string;
  config: Record<string, string>;
  annotations: Record<string, string>;
  containerConcurrency: number;
  /** Offered concurrency (requests in flight) at second s. */
  load(s: number): number;
}

const revisions: Revision[] = [
  {
    name: 'checkout-00001',
    config: { 'stable-window': '60s' },
    annotations: { 'autoscaling.knative.dev/target': '10' },
    containerConcurrency: 10,
    load: (s) => 12 + 4 * Math.sin(s / 30) + (s >= 240 && s < 300 ? 90 : 0),
  },
  {
    name: 'search-00003',
    config: {},
    annotations: { 'autoscaling.knative.dev/metric': 'rps', 'autoscaling.knative.dev/target': '50' },
    containerConcurrency: 0,
    load: (s) => 5 + (s < 420 ? s / 6 : Math.max(0, 75 - (s - 420))),
  },
];

/** Small deterministic jitter so the numbers look measured. */
function jitter(s: number, salt: number): number {
  const x = Math.sin(s * 12.9898 + salt * 78.233) * 43758.5453;
  return (x - Math.floor(x) - 0.5) * 0.1;
}

const replayer = new Replayer();
const out: string[] = [];
const emit = (event: RecordingEvent | Record<string, unknown>): void => {
  out.push(JSON.stringify(event));
};

const ready = new Map<string, number>();
const pendingReady: { at: number; name: string; count: number }[] = [];

for (const rev of revisions) {
  resolveRevision(rev); // fail early on a bad example
  const event = { type: 'revision' as const, t: START, namespace: 'default', name: rev.name, config: rev.config, annotations: rev.annotations, containerConcurrency: rev.containerConcurrency, reachable: true, ready: 1 };
  emit(event);
  replayer.apply(event);
  ready.set(rev.name, 1);
}

for (let s = 0; s < DURATION; s++) {
  const t = START + s;
  for (const p of pendingReady.filter((p) => p.at === s)) {
    if (ready.get(p.name) === p.count) continue;
    ready.set(p.name, p.count);
    const event = { type: 'ready' as const, t, namespace: 'default', name: p.name, ready: p.count };
    emit(event);
    replayer.apply(event);
  }
  for (const [i, rev] of revisions.entries()) {
    const load = Math.max(0, rev.load(s) * (1 + jitter(s, i)));
    const isRps = rev.annotations['autoscaling.knative.dev/metric'] === 'rps';
    const stat = {
      podName: 'service-scraper',
      averageConcurrentRequests: Number((isRps ? load / 10 : load).toFixed(3)),
      averageProxiedConcurrentRequests: 0,
      requestCount: Number((isRps ? load : load * 4).toFixed(3)),
      proxiedRequestCount: 0,
      processUptime: s + 30,
    };
    const event = { type: 'stat' as const, t: t + 0.25, namespace: 'default', name: rev.name, stat };
    emit(event);
    replayer.apply(event);
  }
  if (s % 2 === 1) {
    for (const rev of revisions) {
      const event = { type: 'tick' as const, t: t + 1, namespace: 'default', name: rev.name };
      emit(event);
      const result = replayer.apply(event);
      if (result?.valid) {
        // New pods become ready after a cold start; removed ones go at once. Never below 1 (no activator here).
        const count = Math.max(1, result.desiredPodCount);
        const current = ready.get(rev.name) ?? 0;
        pendingReady.push({ at: s + 1 + (count > current ? COLD_START : 0), name: rev.name, count });
      }
    }
  }
}

process.stdout.write(`${out.join('\n')}\n`);
