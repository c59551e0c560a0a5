import { parseGoFloat } from '../config/goParse.js';
import { emptyStat, type Stat } from './stat.js';

/**
 * Queue-proxy's Prometheus series for the autoscaler (queue-proxy's
 * Prometheus stats reporter, served before the protobuf endpoint existed and
 * still by apps that expose the same stats themselves).
 */
export const QUEUE_PROXY_SERIES = {
  averageConcurrentRequests: 'queue_average_concurrent_requests',
  averageProxiedConcurrentRequests: 'queue_average_proxied_concurrent_requests',
  requestCount: 'queue_requests_per_second',
  proxiedRequestCount: 'queue_proxied_operations_per_second',
  processUptime: 'process_uptime',
} as const;

export class PrometheusTextError extends Error {
  constructor(readonly lineNumber: number, message: string) {
    super(`line ${lineNumber}: ${message}`);
    this.name = 'PrometheusTextError';
  }
}

/** One sample of the exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** A plain decimal, the form nearly every sample takes: Number() reads it as Go's ParseFloat does. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A sample value as Prometheus reads it: Go's strconv.ParseFloat, so "NaN",
 * "Nan" (prom-client writes it), "+Inf", "inf" and hex floats are values,
 * and anything ParseFloat refuses is an error.
 */
function parseValue(text: string, lineNumber: number): number {
  if (DECIMAL.test(text)) return Number(text);
  const v = parseGoFloat(text);
  if (v === undefined) throw new PrometheusTextError(lineNumber, `bad sample value ${JSON.stringify(text)}`);
  return v;
}

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split('\n').forEach((raw, i) => {
    const lineNumber = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const name = NAME.exec(line)?.[0];
    if (!name) throw new PrometheusTextError(lineNumber, 'expected a metric name');
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      for (;;) {
        while (line[pos] === ' ' || line[pos] === ',') pos++;
        if (line[pos] === '}') { pos++; break; }
        const label = NAME.exec(line.slice(pos))?.[0];
        if (!label || line[pos + label.length] !== '=' || line[pos + label.length + 1] !== '"') {
          throw new PrometheusTextError(lineNumber, 'malformed label');
        }
        pos += label.length + 2;
        let value = '';
        for (;;) {
          const c = line[pos++];
          if (c === undefined) throw new PrometheusTextError(lineNumber, 'unterminated label value');
          if (c === '"') break;
          if (c === '\\') {
            const e = line[pos++];
            value += e === 'n' ? '\n' : e;
          } else value += c;
        }
        labels[label] = value;
      }
    }
    const [valueText] = line.slice(pos).trim().split(/\s+/); // an optional timestamp may follow
    samples.push({ name, labels, value: parseValue(valueText ?? '', lineNumber) });
  });
  return samples;
}

/** The pod's Stat from queue-proxy's Prometheus text; missing series count as 0. The values are checked by the caller (checkStat). */
export function statFromPrometheusText(text: string, podName: string): Stat {
  const stat = emptyStat(podName);
  const byName = new Map<string, keyof typeof QUEUE_PROXY_SERIES>(
    Object.entries(QUEUE_PROXY_SERIES).map(([field, series]) => [series, field as keyof typeof QUEUE_PROXY_SERIES]),
  );
  const seen = new Set<string>();
  for (const sample of parsePrometheusText(text)) {
    const field = byName.get(sample.name);
    // As Knative's statFromPrometheus: the first sample of each series counts.
    if (!field || seen.has(field)) continue;
    seen.add(field);
    stat[field] = sample.value;
  }
  return stat;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Queue-proxy's Prometheus text for one pod's Stat. */
export function statToPrometheusText(stat: Stat, labels: Record<string, string> = {}): string {
  const labelText = Object.entries({ destination_pod: stat.podName, ...labels })
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
  return Object.entries(QUEUE_PROXY_SERIES)
    .map(([field, series]) => `# TYPE ${series} gauge\n${series}{${labelText}} ${stat[field as keyof typeof QUEUE_PROXY_SERIES]}`)
    .join('\n') + '\n';
}
