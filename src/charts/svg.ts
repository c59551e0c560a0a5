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
    `<title id="t">${esc(title)}</title><style>text{font:12px sans-serif;fill:#333}.title{font-weight:bold;font-size:14px}.grid{stroke:#e4e4e4}</style>` +
    `<rect width="${width}" height="${height}" fill="#fff"/>${body}</svg>`;
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 900;
  const height = spec.height ?? 320;
  const m = { left: 60, right: spec.rightLabel ? 60 : 20, top: 40, bottom: 60 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const xs = function* () { for (const s of spec.series) for (const p of s.points) yield p[0]; };
  const xMax = maxOf(xs(), 1);
  const xMin = Math.min(0, minOf(xs(), xMax - 1));
  const yMax = (right: boolean) => maxOf((function* () {
    for (const s of spec.series) if (Boolean(s.right) === right) for (const p of s.points) yield p[1];
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
  for (const t of niceTicks(xMax - xMin, 8)) {
    const x = xMin + t;
    if (x > xMax) continue;
    parts.push(`<text x="${f(X(x))}" y="${m.top + h + 16}" text-anchor="middle">${label(x)}</text>`);
  }
  parts.push(`<text x="${m.left + w / 2}" y="${height - 28}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(spec.leftLabel)}</text>`);
  if (spec.rightLabel) parts.push(`<text transform="translate(${width - 10} ${m.top + h / 2}) rotate(90)" text-anchor="middle">${esc(spec.rightLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const pts = downsample(s.points);
    let d = '';
    pts.forEach(([x, y], j) => {
      const px = f(X(x));
      const py = f(Y(y, s.right));
      if (j === 0) d += `M${px} ${py}`;
      else if (s.step) d += `H${px}V${py}`;
      else d += `L${px} ${py}`;
    });
    parts.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.5"><title>${esc(s.name)}</title></path>`);
    const lx = m.left + i * 150;
    parts.push(`<rect x="${lx}" y="${height - 16}" width="12" height="3" fill="${esc(s.color)}"/><text x="${lx + 16}" y="${height - 11}">${esc(s.name)}${s.right ? ' (right)' : ''}</text>`);
  });
  return frame(width, height, spec.title, parts.join(''));
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
}

/** A scatter plot with the Pareto front joined by a line. */
export function scatterChart(title: string, points: readonly ScatterPoint[], xLabel: string, yLabel: string, width = 600, height = 400): string {
  const m = { left: 60, right: 20, top: 40, bottom: 50 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const xt = niceTicks(maxOf(points.map((p) => p.x), 0));
  const yt = niceTicks(maxOf(points.map((p) => p.y), 0));
  const X = (x: number) => m.left + (x / xt[xt.length - 1]) * w;
  const Y = (y: number) => m.top + h - (y / yt[yt.length - 1]) * h;
  const parts = [`<text class="title" x="${m.left}" y="22">${esc(title)}</text>`];
  for (const t of yt) parts.push(`<line class="grid" x1="${m.left}" x2="${m.left + w}" y1="${f(Y(t))}" y2="${f(Y(t))}"/><text x="${m.left - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  for (const t of xt) parts.push(`<text x="${f(X(t))}" y="${m.top + h + 16}" text-anchor="middle">${label(t)}</text>`);
  const front = points.filter((p) => p.front).sort((a, b) => a.x - b.x);
  if (front.length > 1) parts.push(`<path d="${front.map((p, i) => `${i ? 'L' : 'M'}${f(X(p.x))} ${f(Y(p.y))}`).join('')}" fill="none" stroke="#e45756" stroke-width="1.5"/>`);
  for (const p of points) {
    parts.push(`<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="${p.front ? 5 : 3.5}" fill="${p.front ? '#e45756' : '#4c78a8'}"><title>${esc(p.label)}</title></circle>`);
  }
  parts.push(`<text x="${m.left + w / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return frame(width, height, title, parts.join(''));
}
