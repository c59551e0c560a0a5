/**
 * The dashboard page: plain HTML and a browser ES module, no build step, no CDN.
 * A list of revisions, paged through /api/revisions (search, filter, sort), and
 * the charts of the revisions the user opens; a service with a handful of
 * revisions (the embedded demo's three) opens them all at once.
 */
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
  .toolbar { padding: 12px 24px 0; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  .toolbar input { font: inherit; padding: 4px 8px; width: 260px; }
  .toolbar select, .toolbar button { font: inherit; padding: 3px 6px; }
  #list { width: calc(100% - 48px); margin: 8px 24px 0; border-collapse: collapse; background: #fff; border: 1px solid #d0d7de; }
  #list th, #list td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
  #list th { font-weight: 600; background: #f6f8fa; }
  #list td.why { white-space: normal; color: #656d76; font-size: 12px; }
  #list tbody tr { cursor: pointer; }
  #list tbody tr:hover { background: #f6f8fa; }
  #list tbody tr.open td.name { font-weight: 600; }
  #list tbody tr.open td.name::before { content: '▾ '; }
  #list tbody tr:not(.open) td.name::before { content: '▸ '; color: #8c959f; }
  .card .close { margin-left: auto; font: inherit; border: 0; background: none; cursor: pointer; color: #656d76; }
</style>
</head>
<body>
<header><h1>kpa</h1><span id="replica"></span><span id="status">connecting…</span></header>
<div class="toolbar">
  <input id="q" type="search" placeholder="search namespace/name" aria-label="search">
  <select id="filter" aria-label="filter">
    <option value="">all revisions</option><option value="panicking">panicking</option><option value="scaling">scaling</option>
    <option value="zero">at zero</option><option value="erroring">erroring</option>
  </select>
  <select id="sort" aria-label="sort"><option value="activity">by activity</option><option value="name">by name</option></select>
  <button id="prev" type="button">‹ prev</button><span id="range" class="muted"></span><button id="next" type="button">next ›</button>
</div>
<table id="list"><thead><tr><th>revision</th><th>state</th><th>pods</th><th>load</th><th>latest decision</th></tr></thead><tbody></tbody></table>
<main id="revisions"></main>
<script src="/dashboard/uplot.js"></script>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>
`;

export const APP_JS = String.raw`
const HISTORY_SECONDS = 600;
// Rows per page of the list, and up to how many revisions are all opened at once (the demo has three).
const PAGE_SIZE = 50;
const AUTO_OPEN = 4;
// The list is fetched again at most this often while the stream reports changes that may reorder or refilter it.
const RELIST_MS = 3000;
const state = new Map(); // namespace/name → the latest known revision (list, details, stream)
const cards = new Map(); // opened revisions' cards
const view = { q: '', filter: '', sort: 'activity', page: 0, tokens: [''], rows: [], total: 0 };
const main = document.getElementById('revisions');
const tbody = document.querySelector('#list tbody');
const status = document.getElementById('status');
const replicaLabel = document.getElementById('replica');
let firstList = true;
let lastListAt = 0;
let relistTimer = null;

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const idOf = (rev) => rev.namespace + '/' + rev.name;
const metricOf = (rev) => rev.spec.scalingMetric === 'rps' ? rev.rps : rev.concurrency;
const panicking = (rev) => Boolean(rev.latest && rev.latest.valid && rev.latest.panic);

function modeOf(rev) {
  if (panicking(rev)) return { text: 'PANIC', cls: ' panic' };
  const text = rev.scale && rev.scale.state === 'inactive' ? (rev.readyPods === 0 ? 'scaled to zero' : 'inactive') : (rev.scale ? rev.scale.state : 'stable');
  return { text, cls: rev.readyPods === 0 ? ' zero' : '' };
}
const podsText = (rev) => rev.readyPods + ' ready · ' + (rev.desiredScale < 0 ? '–' : rev.desiredScale) + ' desired';
function metricText(rev) {
  const metric = metricOf(rev);
  return metric.ok ? 'stable ' + metric.stable.toFixed(1) + ' · panic ' + metric.panic.toFixed(1) + ' · target ' + rev.spec.targetValue.toFixed(1) + '/pod' : 'no data';
}

function showReplica(replica) {
  if (!replica) return;
  const held = replica.buckets.length === 1 && replica.buckets[0] === 'all' ? 'all revisions' : 'buckets ' + (replica.buckets.join(', ') || 'none') + ' of ' + replica.bucketCount;
  replicaLabel.textContent = 'replica ' + replica.identity + ' · ' + held;
}

// ---- the list, one page of /api/revisions at a time

function fillRow(tr, rev) {
  const mode = modeOf(rev);
  const badge = tr.querySelector('.mode');
  badge.textContent = mode.text;
  badge.className = 'badge mode' + mode.cls;
  tr.querySelector('.pods').textContent = podsText(rev);
  tr.querySelector('.load').textContent = metricText(rev);
  tr.querySelector('.why').textContent = rev.latest ? rev.latest.explanation : '';
}

function renderList(revisions) {
  tbody.replaceChildren(...revisions.map((rev) => {
    const id = idOf(rev);
    const tr = el('tr', { 'data-revision': id, class: cards.has(id) ? 'open' : '' });
    const mode = el('td');
    mode.append(el('span', { class: 'badge mode' }));
    tr.append(el('td', { class: 'name' }, id), mode, el('td', { class: 'pods' }), el('td', { class: 'load' }), el('td', { class: 'why' }));
    fillRow(tr, rev);
    tr.addEventListener('click', () => (cards.has(id) ? close(id) : open(id)));
    return tr;
  }));
  if (revisions.length === 0) {
    const tr = el('tr');
    tr.append(el('td', { colspan: '5', class: 'muted' }, view.total === 0 && !view.q && !view.filter ? 'no revisions yet' : 'no revision matches'));
    tbody.append(tr);
  }
  const from = view.page * PAGE_SIZE;
  document.getElementById('range').textContent = revisions.length ? (from + 1) + '–' + (from + revisions.length) + ' of ' + view.total : '0 of ' + view.total;
  document.getElementById('prev').disabled = view.page === 0;
  document.getElementById('next').disabled = view.tokens[view.page + 1] === undefined;
}

async function loadList() {
  lastListAt = Date.now();
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), sort: view.sort });
  if (view.q) params.set('q', view.q);
  if (view.filter) params.set('filter', view.filter);
  const token = view.tokens[view.page];
  if (token) params.set('continue', token);
  const res = await fetch('/api/revisions?' + params);
  if (!res.ok) {
    // A token the service no longer takes (it restarted): back to the first page.
    if (res.status === 400 && token) return startList();
    throw new Error('GET /api/revisions: ' + res.status);
  }
  const body = await res.json();
  view.tokens.length = view.page + 1;
  if (body.continue) view.tokens.push(body.continue);
  view.rows = body.revisions.map(idOf);
  view.total = body.total;
  for (const rev of body.revisions) state.set(idOf(rev), rev);
  showReplica(body.replica);
  renderList(body.revisions);
  if (firstList) {
    firstList = false;
    // As the dashboard always did for a few revisions: every one's charts, without a click.
    if (body.total <= AUTO_OPEN) await Promise.all(body.revisions.map(idOf).sort().map(open));
    document.body.dataset.history = 'drawn';
  }
  document.body.dataset.lists = String(Number(document.body.dataset.lists || 0) + 1);
}

function startList() {
  view.page = 0;
  view.tokens = [''];
  return loadList();
}

function relistSoon() {
  if (relistTimer !== null) return;
  relistTimer = setTimeout(() => {
    relistTimer = null;
    loadList().catch(() => undefined);
  }, Math.max(0, lastListAt + RELIST_MS - Date.now()));
}

let typing = null;
document.getElementById('q').addEventListener('input', (e) => {
  clearTimeout(typing);
  typing = setTimeout(() => { view.q = e.target.value.trim(); startList(); }, 250);
});
document.getElementById('filter').addEventListener('change', (e) => { view.filter = e.target.value; startList(); });
document.getElementById('sort').addEventListener('change', (e) => { view.sort = e.target.value; startList(); });
document.getElementById('prev').addEventListener('click', () => { if (view.page > 0) { view.page--; loadList(); } });
document.getElementById('next').addEventListener('click', () => { if (view.tokens[view.page + 1] !== undefined) { view.page++; loadList(); } });

// ---- an opened revision: its charts and decision log

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
  const id = idOf(rev);
  const root = el('section', { class: 'card', 'data-revision': id });
  const h = el('h2');
  const closeButton = el('button', { class: 'close', type: 'button', title: 'close' }, '✕');
  closeButton.addEventListener('click', () => close(id));
  h.append(el('span', {}, id), el('span', { class: 'badge metric' }), el('span', { class: 'badge pods' }), el('span', { class: 'badge mode' }), el('span', { class: 'badge source' }), closeButton);
  const charts = el('div', { class: 'charts' });
  const left = el('div', { class: 'chart metric-chart' });
  const right = el('div', { class: 'chart pods-chart' });
  charts.append(left, right);
  const log = el('div', { class: 'log' });
  root.append(h, charts, el('div', { class: 'muted' }, 'Decisions'), log);
  main.append(root);
  const unit = rev.spec.scalingMetric === 'rps' ? 'requests/s' : 'concurrent requests';
  return {
    root, h, log, ready: false, data: { t: [], stable: [], panic: [], target: [], desired: [], ready: [], inPanic: [] }, last: null,
    metricChart: chart(left, 'observed ' + unit + ' (stable, panic) and target', [
      { label: 'stable', stroke: '#4c78a8' }, { label: 'panic', stroke: '#e45756' }, { label: 'target × ready', stroke: '#54a24b' },
    ], 220),
    podsChart: chart(right, 'pods: desired vs ready (shaded: panic)', [
      { label: 'desired', stroke: '#f58518', step: true }, { label: 'ready', stroke: '#54a24b', step: true },
      { label: 'panic', stroke: 'rgba(228,87,86,0)', fill: 'rgba(228,87,86,0.15)', step: true },
    ], 220),
  };
}

function update(c, t, rev) {
  const d = c.data;
  if (d.t.length && t <= d.t[d.t.length - 1]) return;
  const metric = metricOf(rev);
  const latest = rev.latest;
  d.t.push(t);
  d.stable.push(metric.ok ? metric.stable : null);
  d.panic.push(metric.ok ? metric.panic : null);
  d.target.push(rev.spec.targetValue * Math.max(1, rev.readyPods));
  const desired = rev.scale ? rev.scale.currentReplicas : Math.max(0, rev.desiredScale);
  d.desired.push(rev.scale && rev.scale.wantReplicas >= 0 ? rev.scale.wantReplicas : Math.max(0, rev.desiredScale));
  d.ready.push(rev.readyPods);
  d.inPanic.push(panicking(rev) ? Math.max(desired, rev.readyPods, 1) : 0);
  while (d.t.length && d.t[0] < t - HISTORY_SECONDS) for (const k of Object.keys(d)) d[k].shift();
  c.metricChart.setData([d.t, d.stable, d.panic, d.target]);
  c.podsChart.setData([d.t, d.desired, d.ready, d.inPanic]);
  c.h.querySelector('.metric').textContent = metricText(rev);
  c.h.querySelector('.source').textContent = rev.metricsSource === 'activator' ? 'load from kpa activator' : 'load from queue-proxy' + (rev.activatorSeen ? ' + activator' : '');
  c.h.querySelector('.pods').textContent = podsText(rev);
  const mode = modeOf(rev);
  const badge = c.h.querySelector('.mode');
  badge.textContent = mode.text;
  badge.className = 'badge mode' + mode.cls;
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

function markRow(id, opened) {
  for (const tr of tbody.querySelectorAll('tr[data-revision]')) if (tr.dataset.revision === id) tr.classList.toggle('open', opened);
}

// Only an opened revision's history is fetched and charted: with thousands of revisions, the page asks for what is looked at.
async function open(id) {
  const rev = state.get(id);
  if (!rev || cards.has(id)) return;
  const c = card(rev);
  cards.set(id, c);
  markRow(id, true);
  const res = await fetch('/api/revisions/' + encodeURIComponent(rev.namespace) + '/' + encodeURIComponent(rev.name));
  if (res.ok) {
    const { history, ...detail } = await res.json();
    for (const h of history) update(c, h.t, fromHistory(detail, h));
    state.set(id, detail);
  }
  c.ready = true;
  c.root.dataset.history = 'drawn';
}

function close(id) {
  const c = cards.get(id);
  if (!c) return;
  c.metricChart.destroy();
  c.podsChart.destroy();
  c.root.remove();
  cards.delete(id);
  markRow(id, false);
}

// ---- the live stream: after each tick, the revisions that changed since the event before

function follow() {
  const source = new EventSource('/api/stream');
  source.onopen = () => { status.textContent = 'live'; };
  source.onerror = () => { status.textContent = 'reconnecting…'; };
  source.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    showReplica(msg.replica);
    // A fresh start (a new connection, or one that fell behind): the list is fetched again.
    let relist = Boolean(msg.reset) && document.body.dataset.updates !== undefined;
    const shown = new Set(view.rows);
    for (const rev of msg.revisions) {
      const id = idOf(rev);
      state.set(id, rev);
      const tr = shown.has(id) ? tbody.querySelector('tr[data-revision="' + CSS.escape(id) + '"]') : null;
      if (tr) fillRow(tr, rev);
    }
    for (const key of msg.removed) {
      const id = idOf(key);
      state.delete(id);
      if (shown.has(id)) relist = true;
      const c = cards.get(id);
      if (c) c.h.querySelector('.mode').textContent = 'removed';
    }
    // Unchanged revisions were not sent: their charts carry their last values forward.
    for (const [id, c] of cards) {
      const rev = state.get(id);
      if (rev && c.ready) update(c, msg.t, rev);
    }
    const changed = msg.revisions.length > 0 || msg.removed.length > 0;
    // Under a search, a filter or activity order, a change can move a revision into, out of or along the page.
    if (changed && (view.sort === 'activity' || view.q || view.filter)) relist = true;
    if (msg.total !== view.total && !view.q && !view.filter) relist = true;
    if (relist && !firstList) relistSoon();
    status.textContent = 'live · ' + msg.total + ' revisions · ' + new Date(msg.t * 1000).toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  };
}

startList().catch((err) => { document.body.dataset.history = 'failed: ' + err.message; }).finally(follow);
`;
