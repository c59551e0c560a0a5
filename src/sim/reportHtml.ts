import { histogramChart, lineChart } from '../charts/svg.js';
import type { PolicyReport, SimulationReport, TimeseriesRow } from './report.js';

/** Per-second values of one revision under one policy, kept for the charts. */
export class SeriesCollector {
  readonly byRun = new Map<string, { t: number[]; arrivals: number[]; inFlight: number[]; ready: number[]; desired: number[]; panic: boolean[] }>();

  add(row: TimeseriesRow): void {
    const id = `${row.revision}\u0000${row.policy}`;
    let s = this.byRun.get(id);
    if (!s) this.byRun.set(id, (s = { t: [], arrivals: [], inFlight: [], ready: [], desired: [], panic: [] }));
    s.t.push(row.t);
    s.arrivals.push(row.arrivals);
    s.inFlight.push(row.inFlight);
    s.ready.push(row.readyPods);
    s.desired.push(row.desiredPods);
    s.panic.push(row.panic);
  }

  get(revision: string, policy: string) {
    return this.byRun.get(`${revision}\u0000${policy}`);
  }
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The traffic-vs-pods chart of one run, as standalone SVG (the README shows one). */
export function trafficChart(result: PolicyReport, series: SeriesCollector): string {
  const s = series.get(result.revision, result.policy);
  const zip = (ys: number[]) => (s ? s.t.map((t, i) => [t, ys[i]] as const) : []);
  const bands: { from: number; to: number; color: string; label: string }[] = [];
  if (s) {
    let start = -1;
    s.panic.forEach((p, i) => {
      if (p && start < 0) start = s.t[i] - 1;
      if ((!p || i === s.panic.length - 1) && start >= 0) {
        bands.push({ from: start, to: s.t[i], color: 'rgba(228,87,86,0.15)', label: 'panic' });
        start = -1;
      }
    });
  }
  return lineChart({
    title: `${result.revision} — ${result.policy}: traffic and pods`,
    xLabel: 'time (s)', leftLabel: 'requests', rightLabel: 'pods', bands,
    series: [
      { name: 'arrivals/s', points: zip(s?.arrivals ?? []), color: '#9ecae9' },
      { name: 'in flight', points: zip(s?.inFlight ?? []), color: '#4c78a8' },
      { name: 'ready pods', points: zip(s?.ready ?? []), color: '#54a24b', right: true, step: true },
      { name: 'desired pods', points: zip(s?.desired ?? []), color: '#f58518', right: true, step: true },
    ],
  });
}

const COLUMNS: [string, (r: PolicyReport) => string | number][] = [
  ['revision', (r) => r.revision], ['policy', (r) => r.policy], ['requests', (r) => r.requests.total], ['failed', (r) => r.requests.failed],
  ['cold starts', (r) => r.requests.coldStarts], ['p50 ms', (r) => r.latencyMs.p50], ['p90 ms', (r) => r.latencyMs.p90], ['p99 ms', (r) => r.latencyMs.p99],
  ['max ms', (r) => r.latencyMs.max], ['queue p99 ms', (r) => r.queueMs.p99], ['pod-seconds', (r) => r.podSeconds], ['pods max', (r) => r.pods.max],
  ['pods mean', (r) => r.pods.mean], ['scale events', (r) => r.scaleEvents], ['panic s', (r) => r.timeInPanicS],
];

/** A self-contained page (inline CSS and SVG, no scripts, nothing fetched) for report.json and its charts. */
export function renderReportHtml(report: SimulationReport, series: SeriesCollector): string {
  const table = `<table><thead><tr>${COLUMNS.map(([h]) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${
    report.results.map((r) => `<tr>${COLUMNS.map(([, v]) => `<td>${esc(String(v(r)))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const sections = report.results.map((r) => `<section><h2>${esc(r.revision)} — ${esc(r.policy)}</h2>${trafficChart(r, series)}${
    histogramChart(`${r.revision} — ${r.policy}: end-to-end latency`, r.latencyHistogram, 'latency (ms, log scale)')}</section>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kpa simulation: ${esc(report.scenario)}</title>` +
    `<style>body{font:14px sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}` +
    `th{background:#f4f4f4}td:first-child,td:nth-child(2){text-align:left}svg{display:block;margin:8px 0;max-width:100%;height:auto}</style></head><body>` +
    `<h1>kpa simulation: ${esc(report.scenario)}</h1><p>seed ${report.seed}, ${report.durationS} s of virtual time. Same workload and seed for every policy.</p>` +
    `<h2>Comparison</h2>${table}${sections}</body></html>\n`;
}
