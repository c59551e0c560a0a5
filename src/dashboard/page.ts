/** The dashboard page: plain HTML and a browser ES module, no build step, no CDN. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kpa — Knative Pod Autoscaler</title>
<link rel="stylesheet" href="/dashboard/uplot.css">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1f2328; }
  header { background: #1f2937; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { opacity: .75; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  .card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 16px; }
  .card h2 { font-size: 16px; margin: 0 0 6px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  .badge { font-size: 12px; border-radius: 10px; padding: 2px 8px; background: #eaeef2; }
  .badge.panic { background: #ffd8d8; color: #a40e26; }
  .badge.zero { background: #ddf4ff; color: #0550ae; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  .log { font: 12px ui-monospace, monospace; max-height: 140px; overflow: auto; background: #f6f8fa; padding: 6px 8px; border-radius: 6px; }
  .log div { white-space: pre-wrap; }
  .muted { color: #656d76; }
</style>
</head>
<body>
<header><h1>kpa</h1><span id="status">connecting…</span></header>
<main id="revisions"></main>
<script src="/dashboard/uplot.js"></script>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>
`;

export const APP_JS = String.raw`
const HISTORY_SECONDS = 600;
const cards = new Map();
const main = document.getElementById('revisions');
const status = document.getElementById('status');

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function chart(target, title, series, height) {
  const width = Math.max(300, target.clientWidth || 520);
  const opts = {
    title, width, height,
    scales: { x: { time: true } },
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, fill: s.fill, paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined }))],
    axes: [{}, { size: 50 }],
  };
  return new uPlot(opts, [[], ...series.map(() => [])], target);
}

function card(rev) {
  const id = rev.namespace + '/' + rev.name;
  let c = cards.get(id);
  if (c) return c;
  const root = el('section', { class: 'card', 'data-revision': id });
  const h = el('h2');
  h.append(el('span', {}, id), el('span', { class: 'badge metric' }), el('span', { class: 'badge pods' }), el('span', { class: 'badge mode' }), el('span', { class: 'badge source' }));
  const charts = el('div', { class: 'charts' });
  const left = el('div', { class: 'chart metric-chart' });
  const right = el('div', { class: 'chart pods-chart' });
  charts.append(left, right);
  const log = el('div', { class: 'log' });
  root.append(h, charts, el('div', { class: 'muted' }, 'Decisions'), log);
  main.append(root);
  const unit = rev.spec.scalingMetric === 'rps' ? 'requests/s' : 'concurrent requests';
  c = {
    root, h, log, data: { t: [], stable: [], panic: [], target: [], desired: [], ready: [], inPanic: [] }, last: null,
    metricChart: chart(left, 'observed ' + unit + ' (stable, panic) and target', [
      { label: 'stable', stroke: '#4c78a8' }, { label: 'panic', stroke: '#e45756' }, { label: 'target × ready', stroke: '#54a24b' },
    ], 220),
    podsChart: chart(right, 'pods: desired vs ready (shaded: panic)', [
      { label: 'desired', stroke: '#f58518', step: true }, { label: 'ready', stroke: '#54a24b', step: true },
      { label: 'panic', stroke: 'rgba(228,87,86,0)', fill: 'rgba(228,87,86,0.15)', step: true },
    ], 220),
  };
  cards.set(id, c);
  return c;
}

function update(t, rev) {
  const c = card(rev);
  const metric = rev.spec.scalingMetric === 'rps' ? rev.rps : rev.concurrency;
  const latest = rev.latest;
  const d = c.data;
  d.t.push(t);
  d.stable.push(metric.ok ? metric.stable : null);
  d.panic.push(metric.ok ? metric.panic : null);
  d.target.push(rev.spec.targetValue * Math.max(1, rev.readyPods));
  const desired = rev.scale ? rev.scale.currentReplicas : Math.max(0, rev.desiredScale);
  d.desired.push(rev.scale && rev.scale.wantReplicas >= 0 ? rev.scale.wantReplicas : Math.max(0, rev.desiredScale));
  d.ready.push(rev.readyPods);
  const panicking = Boolean(latest && latest.valid && latest.panic);
  d.inPanic.push(panicking ? Math.max(desired, rev.readyPods, 1) : 0);
  while (d.t.length && d.t[0] < t - HISTORY_SECONDS) for (const k of Object.keys(d)) d[k].shift();
  c.metricChart.setData([d.t, d.stable, d.panic, d.target]);
  c.podsChart.setData([d.t, d.desired, d.ready, d.inPanic]);
  c.h.querySelector('.metric').textContent = metric.ok ? 'stable ' + metric.stable.toFixed(1) + ' · panic ' + metric.panic.toFixed(1) + ' · target ' + rev.spec.targetValue.toFixed(1) + '/pod' : 'no data';
  c.h.querySelector('.source').textContent = rev.metricsSource === 'activator' ? 'load from kpa activator' : 'load from queue-proxy' + (rev.activatorSeen ? ' + activator' : '');
  c.h.querySelector('.pods').textContent = rev.readyPods + ' ready · ' + (rev.desiredScale < 0 ? '–' : rev.desiredScale) + ' desired';
  const mode = c.h.querySelector('.mode');
  mode.textContent = panicking ? 'PANIC' : rev.scale && rev.scale.state === 'inactive' ? (rev.readyPods === 0 ? 'scaled to zero' : 'inactive') : (rev.scale ? rev.scale.state : 'stable');
  mode.className = 'badge mode' + (panicking ? ' panic' : rev.readyPods === 0 ? ' zero' : '');
  c.root.dataset.points = String(d.t.length);
  // A log line when the decision or the scaler's view changes.
  const key = latest ? [latest.valid, latest.desiredPodCount, latest.panic, rev.scale && rev.scale.wantReplicas, rev.scale && rev.scale.state].join('|') : '';
  if (latest && key !== c.last) {
    c.last = key;
    const when = new Date(latest.t * 1000).toLocaleTimeString();
    const scale = rev.scale ? ' ⇒ ' + rev.scale.reason : '';
    c.log.prepend(el('div', {}, when + '  ' + latest.explanation + scale));
    while (c.log.childNodes.length > 50) c.log.lastChild.remove();
  }
}

// A kept decision (GET /api/revisions/:namespace/:name history) in the shape of a live update.
function fromHistory(rev, h) {
  const values = { ok: h.valid, stable: h.valid ? h.stableValue : 0, panic: h.valid ? h.panicValue : 0 };
  const readyPods = h.valid ? h.readyPods : h.scale ? h.scale.currentReplicas : 0;
  return { ...rev, concurrency: values, rps: values, readyPods, desiredScale: h.valid ? h.desiredPodCount : -1, scale: h.scale, latest: h };
}

// The charts start with the history the service keeps, so a page opened late still shows the last minutes.
async function drawHistory() {
  const list = await (await fetch('/api/revisions')).json();
  for (const rev of list.revisions) {
    const res = await fetch('/api/revisions/' + encodeURIComponent(rev.namespace) + '/' + encodeURIComponent(rev.name));
    if (!res.ok) continue;
    const detail = await res.json();
    for (const h of detail.history) update(h.t, fromHistory(rev, h));
  }
  document.body.dataset.history = 'drawn';
}

function follow() {
  const source = new EventSource('/api/stream');
  source.onopen = () => { status.textContent = 'live'; };
  source.onerror = () => { status.textContent = 'reconnecting…'; };
  source.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    status.textContent = 'live · ' + msg.revisions.length + ' revisions · ' + new Date(msg.t * 1000).toLocaleTimeString();
    for (const rev of msg.revisions) update(msg.t, rev);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  };
}

drawHistory().catch((err) => { document.body.dataset.history = 'failed: ' + err.message; }).finally(follow);
`;
