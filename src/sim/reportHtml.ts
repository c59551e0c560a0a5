import { stringify } from 'yaml';
import { cdfChart, clockLabel, lineChart, type Series, timeAxisLabel } from '../charts/svg.js';
import type { PolicyReport, PolicyStatistics, SimulationReport } from './report.js';
import type { Scenario } from './scenario.js';
import { type BucketSeries, LATENCY_INTERVAL_S, type RunSeries, SeriesCollector } from './series.js';
import { formatSummary, type Summary } from './stats.js';

export { SeriesCollector };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One color per policy, the same in every chart. */
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#9d755d', '#bab0ac'];
const PANIC_FILL = ['rgba(76,120,168,0.15)', 'rgba(245,133,24,0.15)', 'rgba(84,162,75,0.15)', 'rgba(228,87,86,0.15)', 'rgba(114,183,178,0.15)', 'rgba(178,121,162,0.15)', 'rgba(157,117,93,0.15)', 'rgba(186,176,172,0.15)'];

/** "20 min", "24 h", "7 d 3 h": a run's length for people. */
export function humanDuration(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Number((s / 60).toFixed(1))} min`;
  if (s < 172800) return `${Number((s / 3600).toFixed(1))} h`;
  const d = Math.floor(s / 86400);
  const h = Math.round((s - d * 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** A moment of a run: seconds for short runs, clock time past an hour. */
function when(t: number, durationS: number): string {
  return durationS > 3600 ? clockLabel(t, durationS > 86400) : `${t} s`;
}

function bucketNote(s: RunSeries | undefined, mean = true): string | undefined {
  const b = s?.failed.bucketSeconds ?? 1;
  if (b <= 1) return undefined;
  return mean ? `lines: the mean of every ${b} s of per-second values (p99: of every ${s?.p99.bucketSeconds} s of 10 s values); shading: their min to max`
    : `lines: the min and max of every ${b} s of per-second values, in the order they happened`;
}

/** A bucketed series as a chart line: every value for 1 s buckets; else the bucket means, shaded from min to max. */
function meanWithRange(s: BucketSeries): Pick<Series, 'points' | 'range'> {
  return s.bucketSeconds === 1 ? { points: s.envelope() } : { points: s.means(), range: s.spans() };
}

/** The traffic-vs-pods chart of one run, as standalone SVG (the README shows one). */
export function trafficChart(result: PolicyReport, series: SeriesCollector): string {
  const s = series.get(result.revision, result.policy);
  const bands = (s?.panic.ranges() ?? []).map(([from, to]) => ({ from, to, color: 'rgba(228,87,86,0.15)', label: 'panic' }));
  return lineChart({
    title: `${result.revision} — ${result.policy}: traffic and pods`,
    xLabel: timeAxisLabel(series.durationS), leftLabel: 'requests', rightLabel: 'pods', bands, time: true, xMax: series.durationS,
    note: bucketNote(s, false),
    series: [
      { name: 'arrivals/s', points: s?.arrivals.envelope() ?? [], color: '#9ecae9' },
      { name: 'in flight', points: s?.inFlight.envelope() ?? [], color: '#4c78a8' },
      { name: 'ready pods', points: s?.ready.envelope() ?? [], color: '#54a24b', right: true, step: true },
      { name: 'desired pods', points: s?.desired.envelope() ?? [], color: '#f58518', right: true, step: true },
    ],
  });
}

/** The charts of one revision: every policy on shared axes, one chart per quantity. */
function revisionCharts(revision: string, results: readonly PolicyReport[], series: SeriesCollector): string {
  const duration = series.durationS;
  const runs = results.map((r, i) => ({ r, s: series.get(r.revision, r.policy), color: PALETTE[i % PALETTE.length], fill: PANIC_FILL[i % PANIC_FILL.length] }));
  const common = { xLabel: timeAxisLabel(duration), time: true, xMax: duration, note: bucketNote(runs[0]?.s) };
  const perPolicy = (pick: (s: RunSeries) => [number, number][], extra: Partial<Series> = {}): Series[] =>
    runs.map(({ r, s, color }) => ({ name: r.policy, points: s ? pick(s) : [], color, ...extra }));
  const meanPerPolicy = (pick: (s: RunSeries) => BucketSeries | null, extra: Partial<Series> = {}): Series[] =>
    runs.map(({ r, s, color }) => {
      const b = s ? pick(s) : null;
      return { name: r.policy, points: [], color, ...(b ? meanWithRange(b) : {}), ...extra };
    });
  const charts: string[] = [];
  const first = runs[0]?.s;
  charts.push(lineChart({
    ...common, title: `${revision}: arrivals and requests in flight`, leftLabel: 'requests',
    series: [{ name: 'arrivals/s (mean per bucket)', points: first?.arrivals.means() ?? [], color: '#bbbbbb' }, ...meanPerPolicy((s) => s.inFlight)],
  }));
  const bands = runs.flatMap(({ r, s, fill }) => (s?.panic.ranges() ?? []).map(([from, to]) => ({ from, to, color: fill, label: `${r.policy}: panic` })));
  charts.push(lineChart({
    ...common, note: bucketNote(first, false), title: `${revision}: pods (solid: ready, dashed: desired; shaded: panic)`, leftLabel: 'pods', bands,
    series: [...perPolicy((s) => s.ready.envelope(), { step: true }), ...perPolicy((s) => s.desired.envelope(), { step: true, dash: true, legend: false })],
  }));
  charts.push(lineChart({ ...common, title: `${revision}: requests waiting in the activator`, leftLabel: 'requests', series: meanPerPolicy((s) => s.activatorQueue) }));
  charts.push(lineChart({
    ...common, title: `${revision}: p99 latency per 10 s (requests completed in each 10 s)`, leftLabel: 'p99 latency (ms)',
    series: runs.map(({ r, s, color }) => ({ name: r.policy, color, ...(s ? meanWithRange(s.p99) : { points: [] }), gap: 2 * (s?.p99.bucketSeconds ?? LATENCY_INTERVAL_S) })),
  }));
  // Rejections (a full queue-proxy or activator queue) get their own dashed lines once any policy had one.
  const rejected = runs.some(({ s }) => (s?.rejected.total ?? 0) > 0);
  const none = runs.every(({ s }) => !s || (s.failed.total === 0 && s.rejected.total === 0));
  charts.push(lineChart({
    ...common, ...(none ? { note: `no request ${rejected ? 'failed or was rejected' : 'failed'} in this run` } : {}), title: `${revision}: ${rejected ? 'failed (solid) and rejected (dashed) requests' : 'failed requests'} per second`, leftLabel: 'requests/s',
    series: [...meanPerPolicy((s) => s.failed), ...(rejected ? meanPerPolicy((s) => s.rejected, { dash: true, legend: false }) : [])],
  }));
  charts.push(cdfChart(`${revision}: end-to-end latency by percentile (cumulative, log axes)`, runs.map(({ r, color }) => ({ name: r.policy, color, buckets: r.latencyHistogram })), 'latency (ms, log scale)'));
  return charts.join('');
}

/** When it hurt, per policy: the worst 10 s of p99 latency, the longest activator queue, failures. */
function sufferingTable(results: readonly PolicyReport[], series: SeriesCollector): string {
  const d = series.durationS;
  const rows = results.map((r) => {
    const s = series.get(r.revision, r.policy);
    const p99 = s?.p99.peak();
    const queue = s?.activatorQueue.peak();
    const failed = s?.failed.peak();
    const cells = [r.revision, r.policy,
      p99 ? `${Number(p99[1].toPrecision(4))} ms` : '–', p99 ? `${when(Math.max(0, p99[0] - 10), d)}–${when(p99[0], d)}` : '–',
      queue && queue[1] > 0 ? String(queue[1]) : '0', queue && queue[1] > 0 ? when(queue[0], d) : '–',
      failed && failed[1] > 0 ? `${failed[1]} at ${when(failed[0], d)}` : '0'];
    return `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  });
  const head = ['revision', 'policy', 'worst 10 s p99', 'when', 'peak activator queue', 'when', 'most failures in a second'];
  return `<table class="suffering"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

type Column = [string, (r: PolicyReport) => string | number];

function columns(report: SimulationReport): Column[] {
  const hasRejected = report.results.some((r) => r.requests.rejected > 0);
  return [
    ['revision', (r) => r.revision], ['policy', (r) => r.policy], ['requests', (r) => r.requests.total], ['failed', (r) => r.requests.failed],
    ...(hasRejected ? [['rejected', (r: PolicyReport) => r.requests.rejected] as Column] : []),
    ['cold starts', (r) => r.requests.coldStarts], ['p50 ms', (r) => r.latencyMs.p50], ['p90 ms', (r) => r.latencyMs.p90], ['p99 ms', (r) => r.latencyMs.p99],
    ['max ms', (r) => r.latencyMs.max], ['queue p99 ms', (r) => r.queueMs.p99], ['pod-seconds', (r) => r.podSeconds],
    ['pod-hours', (r) => r.podHours ?? Number((r.podSeconds / 3600).toFixed(4))],
    ...(report.costPerPodHour === undefined ? [] : [['cost', (r: PolicyReport) => (r.cost ?? 0).toFixed(2)] as Column]),
    ['pods max', (r) => r.pods.max], ['pods mean', (r) => r.pods.mean], ['scale events', (r) => r.scaleEvents], ['panic s', (r) => r.timeInPanicS],
  ];
}

function statisticsTable(stats: readonly PolicyStatistics[], costed: boolean): string {
  const figures: [string, (s: PolicyStatistics) => Summary | undefined][] = [
    ['p50 ms', (s) => s.p50Ms], ['p99 ms', (s) => s.p99Ms], ['cold starts', (s) => s.coldStarts], ['pod-seconds', (s) => s.podSeconds],
    ['failed', (s) => s.failed], ...(stats.some((s) => s.rejected.high > 0) ? [['rejected', (s: PolicyStatistics) => s.rejected] as [string, (s: PolicyStatistics) => Summary | undefined]] : []),
    ...(costed ? [['cost', (s: PolicyStatistics) => s.cost] as [string, (s: PolicyStatistics) => Summary | undefined]] : []),
  ];
  const head = ['revision', 'policy', 'runs', ...figures.map(([h]) => h)];
  const rows = stats.map((s) => `<tr><td>${esc(s.revision)}</td><td>${esc(s.policy)}</td><td>${s.n}</td>${figures.map(([, get]) => {
    const v = get(s);
    return v ? `<td title="95 % interval ${v.low} … ${v.high}">${esc(formatSummary(v))}</td>` : '<td></td>';
  }).join('')}</tr>`);
  return `<table class="statistics"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Long lists (a trace's timestamps, an empirical distribution) shortened for the echo of the inputs. */
function shorten(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 12 && v.every((x) => typeof x === 'number') ? `${v.length} values from ${v[0]} to ${v[v.length - 1]}` : v.map(shorten);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shorten(x)]));
  return v;
}

/** The scenario as it was run (after defaults), as YAML. */
function inputs(scenario: Scenario): string {
  const echo = {
    name: scenario.name, duration: scenario.duration, seed: scenario.seed,
    ...(scenario.costPerPodHour === undefined ? {} : { costPerPodHour: scenario.costPerPodHour }),
    revisions: scenario.revisions, policies: scenario.policies,
  };
  return `<pre class="inputs">${esc(stringify(shorten(echo)))}</pre>`;
}

/**
 * A self-contained page (inline CSS and SVG, no scripts, nothing fetched) for
 * report.json and its charts; `scenario` echoes the inputs.
 */
export function renderReportHtml(report: SimulationReport, series: SeriesCollector, scenario?: Scenario): string {
  const cols = columns(report);
  const table = `<table><thead><tr>${cols.map(([h]) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${
    report.results.map((r) => `<tr>${cols.map(([, v]) => `<td>${esc(String(v(r)))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const revisions = [...new Set(report.results.map((r) => r.revision))];
  const sections = revisions.map((rev) => `<section class="revision"><h2>${esc(rev)}</h2>${revisionCharts(rev, report.results.filter((r) => r.revision === rev), series)}</section>`).join('');
  const seeds = report.seeds && report.seeds.length > 1 ? report.seeds : null;
  const about = `seed ${seeds ? `${seeds[0]}–${seeds[seeds.length - 1]} (${seeds.length} runs)` : report.seed}, ${humanDuration(report.durationS)} (${report.durationS} s) of virtual time. ` +
    `Same workload and seed for every policy.${seeds ? ` The first table and the charts show seed ${report.seed}; the statistics, every seed.` : ''}` +
    `${report.costPerPodHour === undefined ? '' : ` Cost: ${report.costPerPodHour} per pod-hour.`}`;
  const stats = report.statistics && seeds
    ? `<h2>Over ${seeds.length} seeds: mean ± 95 % confidence interval</h2><p>Student's t over the runs' figures (hover a cell for the interval's bounds).</p>${statisticsTable(report.statistics, report.costPerPodHour !== undefined)}`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>kpa simulation: ${esc(report.scenario)}</title>` +
    `<style>body{font:14px sans-serif;margin:24px;color:#222;max-width:960px}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}` +
    `th{background:#f4f4f4}td:first-child,td:nth-child(2){text-align:left}svg{display:block;margin:8px 0;max-width:100%;height:auto}` +
    `pre.inputs{background:#f7f7f7;border:1px solid #ddd;padding:8px 12px;font-size:12px;overflow:auto}</style></head><body>` +
    `<h1>kpa simulation: ${esc(report.scenario)}</h1><p>${esc(about)}</p>` +
    `<h2>Comparison${seeds ? ` (seed ${report.seed})` : ''}</h2>${table}${stats}` +
    `<h2>When users suffered</h2>${sufferingTable(report.results, series)}${sections}` +
    `${scenario ? `<h2>Inputs</h2><details open><summary>The scenario as run, defaults filled in (durations in seconds)</summary>${inputs(scenario)}</details>` : ''}</body></html>\n`;
}
