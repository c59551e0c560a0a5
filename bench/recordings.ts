/**
 * The recordings the replay benchmarks run, written to a file as they are
 * generated (the fleet one is 170 MB). Deterministic: the same bytes every run.
 *
 * - one day: one revision, a stat every second on a daily sine with jitter, a
 *   tick every 2 s, ready pods following demand every 20 s (129,7xx lines,
 *   about the size of the one-day recording Knative's harness replays);
 * - fleet: 100 revisions × 1 h, 3 pods each reporting every second, a tick per
 *   revision every 2 s, half of the revisions weighted-exponential, a third on
 *   rps, a fifth with a 30 s scale-down delay, ready pods following demand
 *   every 20 s (1.26 M lines).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const START = 1_700_000_000;
const A = (k: string) => `autoscaling.knative.dev/${k}`;

/** Buffered writes of whole lines: the generator never holds a recording in memory. */
class LineWriter {
  private readonly fd: number;
  private buffer = '';
  lines = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  line(text: string): void {
    this.buffer += `${text}\n`;
    this.lines++;
    if (this.buffer.length >= 1 << 20) this.flush();
  }

  flush(): void {
    writeSync(this.fd, this.buffer);
    this.buffer = '';
  }

  close(): number {
    this.flush();
    closeSync(this.fd);
    return this.lines;
  }
}

/** Small deterministic jitter in [−0.5, 0.5), so that numbers look measured. */
function jitter(s: number, salt: number): number {
  const x = Math.sin(s * 12.9898 + salt * 78.233) * 43758.5453;
  return x - Math.floor(x) - 0.5;
}

interface Revision {
  name: string;
  annotations: Record<string, string>;
  rps: boolean;
  /** Per-pod target of the scaling metric, for the ready pods that follow demand. */
  target: number;
  pods: number;
  /** Demand at second s: concurrency (requests in flight) of the whole revision. */
  load(s: number): number;
}

function revisionLine(r: Revision, ready: number): string {
  return JSON.stringify({ type: 'revision', t: START, namespace: 'bench', name: r.name, config: {}, annotations: r.annotations, ready });
}

/** A stat per pod per second, ticks every 2 s (odd revisions on odd seconds), ready pods every 20 s. */
function write(path: string, revisions: Revision[], seconds: number): number {
  const out = new LineWriter(path);
  const ready = revisions.map(() => 1);
  for (const r of revisions) out.line(revisionLine(r, 1));
  const podNames = revisions.map((r) => Array.from({ length: r.pods }, (_, k) => (r.pods === 1 ? 'service-scraper' : `${r.name}-pod-${k}`)));
  for (let s = 0; s < seconds; s++) {
    for (let k = 0; k < 3; k++) {
      const t = START + s + 0.25 * (k + 1);
      revisions.forEach((r, i) => {
        if (k >= r.pods) return;
        const load = Math.max(0, r.load(s) * (1 + 0.1 * jitter(s, i * 3 + k))) / r.pods;
        // The activator's share of the traffic, as queue-proxies report it.
        const proxied = s % 600 < 30 ? load / 4 : 0;
        out.line(`{"type":"stat","t":${t},"namespace":"bench","name":"${r.name}","stat":{"podName":"${podNames[i][k]}",`
          + `"averageConcurrentRequests":${load.toFixed(3)},"averageProxiedConcurrentRequests":${proxied.toFixed(3)},`
          + `"requestCount":${(load * 4).toFixed(3)},"proxiedRequestCount":${(proxied * 4).toFixed(3)},"processUptime":${s + 30}}}`);
      });
    }
    revisions.forEach((r, i) => {
      if ((s + i) % 2 === 1) out.line(`{"type":"tick","t":${START + s + 1},"namespace":"bench","name":"${r.name}"}`);
    });
    if (s % 20 === 19) {
      revisions.forEach((r, i) => {
        const wanted = Math.max(1, Math.ceil((r.rps ? r.load(s) * 4 : r.load(s)) / r.target));
        if (wanted === ready[i]) return;
        ready[i] = wanted;
        out.line(`{"type":"ready","t":${START + s + 1},"namespace":"bench","name":"${r.name}","ready":${wanted}}`);
      });
    }
  }
  return out.close();
}

/** Writes the one-day recording to `path`; returns its line count. */
export function writeOneDay(path: string): number {
  const day: Revision = {
    name: 'day', annotations: {}, rps: false, target: 70, pods: 1,
    load: (s) => 100 + 80 * Math.sin((2 * Math.PI * s) / 86_400) + ((s * 7919) % 23),
  };
  return write(path, [day], 86_400);
}

/** Writes the fleet recording to `path`; returns its line count. */
export function writeFleet(path: string): number {
  const revisions: Revision[] = Array.from({ length: 100 }, (_, i) => {
    const rps = i % 3 === 0;
    const annotations: Record<string, string> = {};
    if (i % 2 === 0) annotations[A('metric-aggregation-algorithm')] = 'weighted-exponential';
    if (rps) Object.assign(annotations, { [A('metric')]: 'rps', [A('target')]: '150' });
    if (i % 5 === 0) annotations[A('scale-down-delay')] = '30s';
    const base = 20 + (i % 10) * 15;
    return {
      name: `rev-${String(i).padStart(3, '0')}`, annotations, rps, target: rps ? 150 : 70, pods: 3,
      // A slow wave per revision, and a burst every 10 minutes (at a different minute for each).
      load: (s) => base * (1 + 0.5 * Math.sin((2 * Math.PI * (s + i * 97)) / 1800)) + ((s + i * 60) % 600 < 45 ? base * 2 : 0),
    };
  });
  return write(path, revisions, 3600);
}
