/**
 * Small dependency-free SVG charts for self-contained reports: deterministic
 * (same data → same bytes, numbers at fixed precision) and with every text
 * escaped.
 */

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color: string;
  /** Plot against the right axis. */
  right?: boolean;
  step?: boolean;
  dash?: boolean;
  /** Leave out of the legend (a second line of a series already listed). */
  legend?: boolean;
  /** Break the line where consecutive points are further apart than this in x (no data in between). */
  gap?: number;
  /** [x, low, high]: a shaded band around the line (the min and max a mean stands for). */
  range?: readonly (readonly [number, number, number])[];
}

export interface LineChartSpec {
  title: string;
  width?: number;
  height?: number;
  xLabel: string;
  leftLabel: string;
  rightLabel?: string;
  series: Series[];
  /** Shaded x ranges (panic periods). */
  bands?: { from: number; to: number; color: string; label: string }[];
  /** x is seconds from the start: past an hour, ticks and labels are clock times (hh:mm, or day and hh:mm past a day). */
  time?: boolean;
  /** Fixed x range end (e.g. the run's duration, so charts of one run line up). */
  xMax?: number;
  /** A line of text after the legend (what solid and dashed mean, the bucket size). */
  note?: string;
}

/** Max/min of many numbers without spreading them into arguments (charts hold 100k+ points). */
function maxOf(values: Iterable<number>, start: number): number {
  let m = start;
  for (const v of values) if (v > m) m = v;
  return m;
}

function minOf(values: Iterable<number>, start: number): number {
  let m = start;
  for (const v of values) if (v < m) m = v;
  return m;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);

/** "Nice" axis ticks (1, 2, 5 × 10^k) covering [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

const CLOCK_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

/** Ticks for seconds since the start at whole clock steps (minutes, hours, days): at most `count`. */
export function clockTicks(max: number, count = 8): number[] {
  const step = CLOCK_STEPS.find((s) => max / s <= count) ?? Math.ceil(max / count / 86400) * 86400;
  const ticks: number[] = [];
  for (let v = 0; v <= max; v += step) ticks.push(v);
  return ticks;
}

/** Seconds since the start as a clock: "06:30" within the first day when `days` is false, else "day 2 06:30" (day 1 is the first). */
export function clockLabel(seconds: number, days: boolean): string {
  const d = Math.floor(seconds / 86400);
  const rest = seconds - d * 86400;
  const hh = String(Math.floor(rest / 3600)).padStart(2, '0');
  const mm = String(Math.floor((rest % 3600) / 60)).padStart(2, '0');
  if (!days) return `${String(d * 24 + Number(hh)).padStart(2, '0')}:${mm}`;
  return `day ${d + 1} ${hh}:${mm}`;
}

/** The x-axis title for seconds since the start of a run this long. */
export function timeAxisLabel(durationS: number): string {
  if (durationS <= 3600) return 'time (s)';
  return durationS <= 86400 ? 'time since the start (hh:mm)' : 'time since the start (day hh:mm)';
}

/** Legend entries laid out left to right, wrapping: [x, row] per entry, and the number of rows. */
function legendLayout(names: readonly string[], left: number, right: number): { at: [number, number][]; rows: number } {
  const at: [number, number][] = [];
  let x = left;
  let row = 0;
  for (const name of names) {
    const w = 16 + 7 * name.length + 18;
    if (x > left && x + w > right) {
      x = left;
      row++;
    }
    at.push([x, row]);
    x += w;
  }
  return { at, rows: names.length === 0 ? 0 : row + 1 };
}

/** Keeps at most `max` points, taking each bucket's min and max so spikes survive. */
export function downsample(points: readonly (readonly [number, number])[], max = 2000): [number, number][] {
  if (points.length <= max) return points.map(([x, y]) => [x, y]);
  const bucket = Math.ceil(points.length / (max / 2));
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += bucket) {
    let lo = points[i];
    let hi = points[i];
    for (let j = i; j < Math.min(points.length, i + bucket); j++) {
      if (points[j][1] < lo[1]) lo = points[j];
      if (points[j][1] > hi[1]) hi = points[j];
    }
    const pair = lo[0] <= hi[0] ? [lo, hi] : [hi, lo];
    for (const p of pair) if (out.length === 0 || out[out.length - 1][0] !== p[0]) out.push([p[0], p[1]]);
  }
  return out;
}

function frame(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="t">` +
    `<title id="t">${esc(title)}</title><style>text{font:12px sans-serif;fill:#333}.title{font-weight:bold;font-size:14px}.note{fill:#666}.grid{stroke:#e4e4e4}</style>` +
    `<rect width="${width}" height="${height}" fill="#fff"/>${body}</svg>`;
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 900;
  const listed = spec.series.filter((s) => s.legend !== false);
  const legendNames = listed.map((s) => `${s.name}${s.right ? ' (right)' : ''}`);
  const right = spec.rightLabel ? 60 : 20;
  const legend = legendLayout(legendNames, 60, width - right);
  const extraRows = Math.max(0, legend.rows - 1) + (spec.note ? 1 : 0);
  const height = (spec.height ?? 320) + extraRows * 16;
  const m = { left: 60, right, top: 40, bottom: 60 + extraRows * 16 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const xs = function* () { for (const s of spec.series) for (const p of s.points) yield p[0]; };
  const xMax = spec.xMax ?? maxOf(xs(), 1);
  const xMin = Math.min(0, minOf(xs(), xMax - 1));
  const yMax = (right: boolean) => maxOf((function* () {
    for (const s of spec.series) {
      if (Boolean(s.right) !== right) continue;
      for (const p of s.points) yield p[1];
      for (const p of s.range ?? []) yield p[2];
    }
  })(), 0);
  const leftTicks = niceTicks(yMax(false));
  const rightTicks = niceTicks(yMax(true));
  const X = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * w;
  const Y = (y: number, right = false) => {
    const ticks = right ? rightTicks : leftTicks;
    return m.top + h - (y / ticks[ticks.length - 1]) * h;
  };
  const parts: string[] = [`<text class="title" x="${m.left}" y="22">${esc(spec.title)}</text>`];
  for (const b of spec.bands ?? []) {
    parts.push(`<rect x="${f(X(b.from))}" y="${m.top}" width="${f(Math.max(1, X(b.to) - X(b.from)))}" height="${h}" fill="${esc(b.color)}"><title>${esc(b.label)}</title></rect>`);
  }
  for (const t of leftTicks) parts.push(`<line class="grid" x1="${m.left}" x2="${m.left + w}" y1="${f(Y(t))}" y2="${f(Y(t))}"/><text x="${m.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  if (spec.rightLabel) for (const t of rightTicks) parts.push(`<text x="${m.left + w + 6}" y="${f(Y(t, true) + 4)}">${label(t)}</text>`);
  const clock = spec.time === true && xMax - xMin > 3600;
  const days = xMax > 86400;
  const xTicks = clock ? clockTicks(xMax - xMin, days ? 7 : 8) : niceTicks(xMax - xMin, 8);
  const wholeDays = clock && xTicks.length > 1 && xTicks[1] % 86400 === 0;
  for (const t of xTicks) {
    const x = xMin + t;
    if (x > xMax) continue;
    const text = !clock ? label(x) : wholeDays ? `day ${x / 86400 + 1}` : clockLabel(x, days);
    // A label at the right edge ends there instead of running off the chart.
    const anchor = X(x) + text.length * 3.5 > width ? 'end' : 'middle';
    parts.push(`<text x="${f(X(x))}" y="${m.top + h + 16}" text-anchor="${anchor}">${text}</text>`);
  }
  parts.push(`<text x="${m.left + w / 2}" y="${m.top + h + 32}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(spec.leftLabel)}</text>`);
  if (spec.rightLabel) parts.push(`<text transform="translate(${width - 10} ${m.top + h / 2}) rotate(90)" text-anchor="middle">${esc(spec.rightLabel)}</text>`);
  for (const s of spec.series) {
    if (!s.range || s.range.length === 0) continue;
    // One polygon per stretch without a gap: the highs left to right, the lows back.
    const runs: (readonly [number, number, number])[][] = [[]];
    s.range.forEach((p, j) => {
      if (j > 0 && s.gap !== undefined && p[0] - s.range![j - 1][0] > s.gap) runs.push([]);
      runs[runs.length - 1].push(p);
    });
    const d = runs.filter((r) => r.length > 0).map((r) => `M${r.map(([x, , hi]) => `${f(X(x))} ${f(Y(hi, s.right))}`).join('L')}L${
      [...r].reverse().map(([x, lo]) => `${f(X(x))} ${f(Y(lo, s.right))}`).join('L')}Z`).join('');
    parts.push(`<path class="range" d="${d}" fill="${esc(s.color)}" fill-opacity="0.18" stroke="none"><title>${esc(s.name)}: min–max</title></path>`);
  }
  for (const s of spec.series) {
    const pts = downsample(s.points);
    if (pts.length === 0) continue;
    let d = '';
    pts.forEach(([x, y], j) => {
      const px = f(X(x));
      const py = f(Y(y, s.right));
      if (j === 0 || (s.gap !== undefined && x - pts[j - 1][0] > s.gap)) d += `M${px} ${py}`;
      else if (s.step) d += `H${px}V${py}`;
      else d += `L${px} ${py}`;
    });
    // A point standing alone between gaps still shows, as a dot (round caps on a zero-length segment).
    parts.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.5"${s.gap !== undefined ? ' stroke-linecap="round"' : ''}${s.dash ? ' stroke-dasharray="5 3"' : ''}><title>${esc(s.name)}</title></path>`);
  }
  const legendTop = m.top + h + 44;
  listed.forEach((s, i) => {
    const [lx, row] = legend.at[i];
    const y = legendTop + row * 16;
    parts.push(`<line x1="${lx}" x2="${lx + 12}" y1="${y}" y2="${y}" stroke="${esc(s.color)}" stroke-width="3"${s.dash ? ' stroke-dasharray="4 2"' : ''}/><text x="${lx + 16}" y="${y + 4}">${esc(legendNames[i])}</text>`);
  });
  if (spec.note) parts.push(`<text x="${m.left}" y="${legendTop + legend.rows * 16 + 4}" class="note">${esc(spec.note)}</text>`);
  return frame(width, height, spec.title, parts.join(''));
}

export interface CdfSeries {
  name: string;
  color: string;
  /** Histogram buckets: [upper bound, count], ascending. */
  buckets: readonly (readonly [number, number])[];
}

/**
 * Cumulative distributions of latencies, one line per series, on log axes
 * both ways: x is the latency, y the percentile as its "nines" (−log₁₀ of the
 * fraction above it), so p50, p90, p99 and p99.9 are evenly spaced and the
 * tail, where users suffer, is not squashed against 100 %.
 */
export function cdfChart(title: string, series: readonly CdfSeries[], xLabel: string, width = 900, height = 320): string {
  const legend = legendLayout(series.map((s) => s.name), 60, width - 20);
  const extra = Math.max(0, legend.rows - 1) * 16;
  height += extra;
  const m = { left: 60, right: 20, top: 40, bottom: 60 + extra };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const parts = [`<text class="title" x="${m.left}" y="22">${esc(title)}</text>`];
  const all = series.flatMap((s) => s.buckets.filter(([, n]) => n > 0).map(([x]) => x));
  if (all.length === 0) return frame(width, height, title, `${parts[0]}<text x="${m.left}" y="${m.top + 20}">no data</text>`);
  const lo = Math.floor(Math.log10(Math.max(1e-3, minOf(all, Infinity))));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(maxOf(all, 0))));
  const X = (x: number) => m.left + ((Math.log10(Math.max(1e-3, x)) - lo) / (hi - lo)) * w;
  const most = maxOf(series.map((s) => s.buckets.reduce((a, [, n]) => a + n, 0)), 1);
  // As many nines as the counts can tell (p99.9 needs a thousand requests), at most p99.99.
  const top = Math.max(1, Math.min(4, Math.floor(Math.log10(most))));
  const nines = (q: number) => Math.min(top, -Math.log10(Math.max(1e-12, 1 - q)));
  const Y = (q: number) => m.top + h - (nines(q) / top) * h;
  for (const q of [0, 0.5, 0.9, 0.99, 0.999, 0.9999]) {
    if (nines(q) > top + 1e-9) continue;
    const text = q === 0 ? 'p0' : `p${Number((q * 100).toPrecision(4))}`;
    parts.push(`<line class="grid" x1="${m.left}" x2="${m.left + w}" y1="${f(Y(q))}" y2="${f(Y(q))}"/>` +
      `<text x="${m.left - 6}" y="${f(Y(q) + 4)}" text-anchor="end">${text}</text>`);
  }
  for (let d = lo; d <= hi; d++) {
    parts.push(`<line class="grid" x1="${f(X(10 ** d))}" x2="${f(X(10 ** d))}" y1="${m.top}" y2="${m.top + h}"/>` +
      `<text x="${f(X(10 ** d))}" y="${m.top + h + 16}" text-anchor="middle">${label(10 ** d)}</text>`);
  }
  series.forEach((s) => {
    const total = s.buckets.reduce((a, [, n]) => a + n, 0);
    if (total === 0) return;
    let seen = 0;
    const pts: [number, number][] = [];
    for (const [x, n] of s.buckets) {
      if (n <= 0) continue;
      seen += n;
      pts.push([x, seen / total]);
    }
    const first = pts[0];
    // A step up at each bucket's bound, from 0 before the first.
    let d = `M${f(X(first[0]))} ${f(Y(0))}`;
    for (const [x, q] of downsample(pts)) d += `H${f(X(x))}V${f(Y(q))}`;
    parts.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.5"><title>${esc(s.name)}</title></path>`);
  });
  parts.push(`<text x="${m.left + w / 2}" y="${m.top + h + 32}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">percentile (log of the tail)</text>`);
  series.forEach((s, i) => {
    const [lx, row] = legend.at[i];
    const y = m.top + h + 44 + row * 16;
    parts.push(`<line x1="${lx}" x2="${lx + 12}" y1="${y}" y2="${y}" stroke="${esc(s.color)}" stroke-width="3"/><text x="${lx + 16}" y="${y + 4}">${esc(s.name)}</text>`);
  });
  return frame(width, height, title, parts.join(''));
}

/** Bars of (upper bound, count) on a log-x axis: a latency distribution. */
export function histogramChart(title: string, buckets: readonly (readonly [number, number])[], xLabel: string, width = 900, height = 260): string {
  const m = { left: 60, right: 20, top: 40, bottom: 50 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const parts = [`<text class="title" x="${m.left}" y="22">${esc(title)}</text>`];
  if (buckets.length === 0) return frame(width, height, title, `${parts[0]}<text x="${m.left}" y="${m.top + 20}">no data</text>`);
  // Regroup into 60 log-spaced bins.
  const lo = Math.log10(Math.max(1e-3, buckets[0][0]));
  const hi = Math.log10(buckets[buckets.length - 1][0]) + 1e-9;
  const bins = new Array<number>(60).fill(0);
  for (const [x, n] of buckets) bins[Math.min(59, Math.floor(((Math.log10(Math.max(1e-3, x)) - lo) / Math.max(1e-9, hi - lo)) * 60))] += n;
  const ticks = niceTicks(maxOf(bins, 0));
  const top = ticks[ticks.length - 1];
  bins.forEach((n, i) => {
    if (n === 0) return;
    const bh = (n / top) * h;
    parts.push(`<rect x="${f(m.left + (i * w) / 60)}" y="${f(m.top + h - bh)}" width="${f(w / 60 - 1)}" height="${f(bh)}" fill="#4c78a8"/>`);
  });
  for (const t of ticks) parts.push(`<text x="${m.left - 6}" y="${f(m.top + h - (t / top) * h + 4)}" text-anchor="end">${label(t)}</text>`);
  for (let d = Math.ceil(lo); d <= hi; d++) parts.push(`<text x="${f(m.left + ((d - lo) / (hi - lo)) * w)}" y="${m.top + h + 16}" text-anchor="middle">${label(10 ** d)}</text>`);
  parts.push(`<text x="${m.left + w / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  return frame(width, height, title, parts.join(''));
}

export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
  front: boolean;
  /** 95 % intervals, drawn as error bars. */
  xInterval?: readonly [number, number];
  yInterval?: readonly [number, number];
}

/** A scatter plot with the Pareto front joined by a line (`joinFront`; a front of intervals is not a curve: then only colored). */
export function scatterChart(title: string, points: readonly ScatterPoint[], xLabel: string, yLabel: string, width = 600, height = 400, joinFront = true): string {
  const m = { left: 60, right: 20, top: 40, bottom: 50 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const xt = niceTicks(maxOf(points.map((p) => p.xInterval?.[1] ?? p.x), 0));
  const yt = niceTicks(maxOf(points.map((p) => p.yInterval?.[1] ?? p.y), 0));
  const X = (x: number) => m.left + (x / xt[xt.length - 1]) * w;
  const Y = (y: number) => m.top + h - (y / yt[yt.length - 1]) * h;
  const parts = [`<text class="title" x="${m.left}" y="22">${esc(title)}</text>`];
  for (const t of yt) parts.push(`<line class="grid" x1="${m.left}" x2="${m.left + w}" y1="${f(Y(t))}" y2="${f(Y(t))}"/><text x="${m.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  for (const t of xt) parts.push(`<text x="${f(X(t))}" y="${m.top + h + 16}" text-anchor="middle">${label(t)}</text>`);
  const front = points.filter((p) => p.front).sort((a, b) => a.x - b.x);
  if (joinFront && front.length > 1) parts.push(`<path d="${front.map((p, i) => `${i ? 'L' : 'M'}${f(X(p.x))} ${f(Y(p.y))}`).join('')}" fill="none" stroke="#e45756" stroke-width="1.5"/>`);
  for (const p of points) {
    const color = p.front ? '#e45756' : '#4c78a8';
    if (p.xInterval && p.xInterval[1] > p.xInterval[0]) parts.push(`<line class="ci" x1="${f(X(p.xInterval[0]))}" x2="${f(X(p.xInterval[1]))}" y1="${f(Y(p.y))}" y2="${f(Y(p.y))}" stroke="${color}"/>`);
    if (p.yInterval && p.yInterval[1] > p.yInterval[0]) parts.push(`<line class="ci" x1="${f(X(p.x))}" x2="${f(X(p.x))}" y1="${f(Y(p.yInterval[0]))}" y2="${f(Y(p.yInterval[1]))}" stroke="${color}"/>`);
  }
  for (const p of points) {
    parts.push(`<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="${p.front ? 5 : 3.5}" fill="${p.front ? '#e45756' : '#4c78a8'}"><title>${esc(p.label)}</title></circle>`);
  }
  parts.push(`<text x="${m.left + w / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return frame(width, height, title, parts.join(''));
}
