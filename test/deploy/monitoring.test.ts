import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { selectorMatches } from '../../src/k8s/deploymentTarget.js';
import { silentLogger } from '../../src/log.js';
import { StatClient } from '../../src/metrics/statClient.js';
import { revisionNamesFromLabels } from '../../src/service/autoscalerService.js';
import { type LiveAutoscaler, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { type App, send, startApp, startTestActivator, staticTarget } from '../helpers/activatorHarness.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { type KubernetesRun, startKubernetesRun } from '../../src/cli/runKubernetes.js';
import { FakeApiServer } from '../k8s/apiServer.js';
import { APP_NAMESPACE, configAutoscaler, deployment, kubeConfigFor, OWN_NAMESPACE, syncPods } from '../k8s/cluster.js';

const DIR = 'deploy/components/monitoring';
type Doc = Record<string, any>;
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
  if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return d.toJSON() as Doc;
});
const deployDocs = (file: string): Doc[] => parseAllDocuments(readFileSync(join('deploy', file), 'utf8')).map((d) => d.toJSON() as Doc);

const component = docs('kustomization.yaml')[0];
const resources = (component.resources as string[]).flatMap((f) => docs(f));
const dashboard = JSON.parse(readFileSync(join(DIR, 'kpa-dashboard.json'), 'utf8')) as Doc;
const rules = resources.filter((d) => d.kind === 'PrometheusRule').flatMap((d) => d.spec.groups.flatMap((g: Doc) => g.rules)) as Doc[];

/** Every panel, those inside rows included. */
function allPanels(panels: Doc[]): Doc[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels);
const variables = dashboard.templating.list as Doc[];
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t: Doc) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr as string })));
const ruleExprs = rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr as string }));
const variableQueries = variables.filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, query: (v.query?.query ?? v.query) as string }));

describe('deploy/components/monitoring (parsed, not rendered)', () => {
  it('is a kustomize Component of a metrics Service, two ServiceMonitors, a PrometheusRule and a dashboard ConfigMap', () => {
    expect(component).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component' });
    for (const r of component.resources) expect(existsSync(join(DIR, r)), r).toBe(true);
    expect(resources.map((d) => `${d.kind}/${d.metadata.name}`).sort())
      .toEqual(['PrometheusRule/kpa', 'Service/kpa-metrics', 'ServiceMonitor/kpa', 'ServiceMonitor/kpa-activator']);
    for (const d of resources) expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe('kpa-system');
    const [generator] = component.configMapGenerator;
    expect(generator).toMatchObject({ name: 'kpa-dashboard', namespace: 'kpa-system', files: ['kpa-dashboard.json'], options: { labels: { grafana_dashboard: '1' }, disableNameSuffixHash: true } });
    for (const d of resources.filter((x) => x.kind === 'ServiceMonitor' || x.kind === 'PrometheusRule')) expect(d.apiVersion).toBe('monitoring.coreos.com/v1');
  });

  it('scrapes every kpa replica (followers are never Ready) and the activators, on ports their containers name', () => {
    const kpa = deployDocs('deployment.yaml').find((d) => d.kind === 'Deployment')!;
    const activatorDocs = deployDocs('activator.yaml');
    const activator = activatorDocs.find((d) => d.kind === 'Deployment')!;
    const activatorService = activatorDocs.find((d) => d.kind === 'Service')!;
    const kpaService = deployDocs('service.yaml')[0];
    const metricsService = resources.find((d) => d.kind === 'Service')!;
    expect(metricsService.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(selectorMatches({ matchLabels: metricsService.spec.selector }, kpa.spec.template.metadata.labels)).toBe(true);
    const containerPorts = (dep: Doc) => dep.spec.template.spec.containers[0].ports.map((p: Doc) => p.name);
    expect(containerPorts(kpa)).toContain(metricsService.spec.ports[0].targetPort);
    const monitor = (name: string) => resources.find((d) => d.kind === 'ServiceMonitor' && d.metadata.name === name)!;
    const picks = (m: Doc, service: Doc) => selectorMatches(m.spec.selector, service.metadata.labels ?? {});
    // kpa's monitor takes the metrics Service only (the kpa Service would scrape the leader twice).
    expect(picks(monitor('kpa'), metricsService)).toBe(true);
    expect(picks(monitor('kpa'), kpaService)).toBe(false);
    expect(picks(monitor('kpa-activator'), activatorService)).toBe(true);
    expect(picks(monitor('kpa-activator'), metricsService)).toBe(false);
    for (const [m, service, dep] of [[monitor('kpa'), metricsService, kpa], [monitor('kpa-activator'), activatorService, activator]] as const) {
      const port = service.spec.ports.find((p: Doc) => p.name === m.spec.endpoints[0].port);
      expect(port, m.metadata.name).toBeDefined();
      expect(containerPorts(dep)).toContain(port.targetPort);
      expect(m.spec.endpoints[0].path).toBe('/metrics');
    }
    // The activator's namespace label is the target's; without honorLabels it would become exported_namespace.
    expect(monitor('kpa-activator').spec.endpoints[0].honorLabels).toBe(true);
  });

  it('has alerts with an expression, a duration, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThanOrEqual(10);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Kpa[A-Za-z]+$/);
      expect(typeof r.expr, r.alert).toBe('string');
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
    }
  });

  it('is a Grafana dashboard: panels with targets and expressions, and the variables they use', () => {
    expect(dashboard).toMatchObject({ uid: 'kpa-autoscaling', title: expect.any(String), schemaVersion: expect.any(Number) });
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(typeof p.type, p.title).toBe('string');
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(t.refId, p.title).toMatch(/^[A-Z]$/);
        expect(t.expr, p.title).toMatch(/\S/);
      }
    }
    for (const wanted of ['Desired vs actual pods', 'Panic mode', 'Concurrency per pod vs target', 'Requests per second vs target',
      'Scrape latency (pod sample per revision)', 'Scrapes by result', 'Scale patches', 'Lease ownership']) {
      expect(panels.map((p) => p.title)).toContain(wanted);
    }
    const names = variables.map((v) => v.name);
    expect(names).toEqual(['datasource', 'namespace', 'configuration', 'revision']);
    expect(variables[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
    // Every $variable an expression or a variable query uses is defined ($__rate_interval and its kind are Grafana's).
    for (const { where, expr } of [...dashboardExprs, ...variableQueries.map((v) => ({ where: v.where, expr: v.query }))]) {
      for (const [, a, b] of expr.matchAll(/\$(?:\{(\w+)\}|(\w+))/g)) {
        const name = a ?? b;
        if (!name.startsWith('__')) expect(names, `${where} uses $${name}`).toContain(name);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Which series the expressions reference: a small PromQL tokenizer, enough for these expressions.

/** Labels Prometheus (the Operator's ServiceMonitor relabelling) puts on every scraped series. */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'service', 'pod', 'container', 'endpoint'];

/** Series name → the label names it carries (null: declared by `# TYPE` but no sample in the scrape). */
type Families = Map<string, Set<string> | null>;

/** The series a /metrics body declares (histograms as _bucket/_sum/_count, summaries with _sum/_count) and the labels of their samples. */
function families(body: string, into: Families = new Map()): Families {
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const names = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : type === 'summary' ? [name, `${name}_sum`, `${name}_count`] : [name];
    for (const n of names) if (!into.has(n)) into.set(n, null);
  }
  for (const [, name, labels] of body.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/gm)) {
    const set = into.get(name) ?? new Set<string>();
    for (const [, label] of (labels ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) set.add(label);
    into.set(name, set);
  }
  return into;
}

type Token = { kind: 'ident' | 'string' | 'number' | 'var' | 'punct' | 'op'; text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const rules: [Token['kind'] | null, RegExp][] = [
    [null, /^\s+/], [null, /^#[^\n]*/],
    [null, /^\[[^\]]*\]/], // a range or subquery: durations, $__rate_interval, ':' steps
    ['string', /^"(?:[^"\\]|\\.)*"/], ['string', /^'(?:[^'\\]|\\.)*'/], ['string', /^`[^`]*`/],
    ['var', /^\$\{\w+\}|^\$\w+|^\[\[\w+\]\]/],
    ['number', /^\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*/], // a duration (offset 5m)
    ['number', /^(?:0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)/],
    ['ident', /^[a-zA-Z_:][a-zA-Z0-9_:]*/],
    ['punct', /^[(){},]/],
    ['op', /^(?:==|!=|<=|>=|=~|!~|[=<>+\-*/%^@])/],
  ];
  outer: while (i < expr.length) {
    for (const [kind, re] of rules) {
      const m = re.exec(expr.slice(i));
      if (!m) continue;
      if (kind) tokens.push({ kind, text: m[0] });
      i += m[0].length;
      continue outer;
    }
    throw new Error(`cannot tokenize ${JSON.stringify(expr.slice(i, i + 20))} in ${expr}`);
  }
  return tokens;
}

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set([...AGGREGATIONS, ...GROUPING, 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan', 'start', 'end']);

interface Selector { metric: string; labels: string[] }
interface Grouping { keyword: string; labels: string[]; metrics: string[] }
/** The metrics a parenthesised part yields (result) and those it only filters by (right of `and`/`unless`). */
interface Scope { result: string[]; filter: string[]; filtering: boolean }

/** The metric selectors of an expression (name, matcher labels) and its groupings with the metrics each applies to. */
function references(expr: string): { selectors: Selector[]; groupings: Grouping[] } {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupings: Grouping[] = [];
  const stack: Scope[] = [{ result: [], filter: [], filtering: false }];
  const top = () => stack[stack.length - 1];
  let pendingBy: Grouping | null = null;
  let pendingDepth = -1;
  let lastClosed: Scope | null = null;
  const wholeExpr: Grouping[] = [];
  const add = (metric: string) => (top().filtering ? top().filter : top().result).push(metric);
  const matcherLabels = (start: number): [string[], number] => {
    const labels: string[] = [];
    let j = start + 1;
    for (; tokens[j] && tokens[j].text !== '}'; j++) {
      if (tokens[j].kind === 'ident' && tokens[j + 1]?.kind === 'op') labels.push(tokens[j].text);
    }
    if (!tokens[j]) throw new Error(`unclosed { in ${expr}`);
    return [labels, j];
  };
  const labelList = (start: number): [string[], number] => {
    const labels: string[] = [];
    let j = start + 1;
    for (; tokens[j] && tokens[j].text !== ')'; j++) if (tokens[j].kind === 'ident') labels.push(tokens[j].text);
    return [labels, j];
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const next = tokens[i + 1];
    if (tok.kind === 'ident' && GROUPING.has(tok.text)) {
      if (next?.text !== '(') continue; // group_left with no labels
      const [labels, end] = labelList(i + 1);
      const grouping: Grouping = { keyword: tok.text, labels, metrics: [] };
      if (tok.text === 'by' || tok.text === 'without') {
        // `sum(x) by (l)` applies to the part just closed, `sum by (l) (x)` to the part that follows.
        if (tokens[i - 1]?.text === ')' && lastClosed) grouping.metrics = lastClosed.result;
        else {
          pendingBy = grouping;
          pendingDepth = stack.length;
        }
        groupings.push(grouping);
      } else wholeExpr.push(grouping);
      i = end;
      continue;
    }
    if (tok.kind === 'ident' && (tok.text === 'and' || tok.text === 'unless')) top().filtering = true;
    if (tok.kind === 'ident' && tok.text === 'or') top().filtering = false;
    if (tok.text === '(') {
      stack.push({ result: [], filter: [], filtering: false });
      continue;
    }
    if (tok.text === ')') {
      const closed = stack.pop()!;
      if (pendingBy && stack.length === pendingDepth) {
        pendingBy.metrics = closed.result;
        pendingBy = null;
      }
      lastClosed = closed;
      (top().filtering ? top().filter : top().result).push(...closed.result);
      top().filter.push(...closed.filter);
      continue;
    }
    if (tok.text === '{') {
      // A selector without a name before it: only {__name__="…"} names its metric.
      const [labels, end] = matcherLabels(i);
      const name = tokens.slice(i, end).find((t, k, all) => t.text === '__name__' && all[k + 2]?.kind === 'string');
      if (!name) throw new Error(`a selector without a metric name in ${expr}`);
      i = end;
      void labels;
      continue;
    }
    if (tok.kind !== 'ident' || next?.text === '(' || KEYWORDS.has(tok.text.toLowerCase())) continue; // functions, aggregations, keywords
    let labels: string[] = [];
    if (next?.text === '{') [labels, i] = matcherLabels(i + 1);
    selectors.push({ metric: tok.text, labels });
    add(tok.text);
  }
  const all = [...stack[0].result, ...stack[0].filter];
  for (const g of wholeExpr) groupings.push({ ...g, metrics: all });
  return { selectors, groupings };
}

/** What is wrong with an expression against the series known: unknown metrics, matcher or grouping labels no such series has. */
function problems(expr: string, known: Families): string[] {
  const out: string[] = [];
  const labelsOf = (metric: string): Set<string> | null | undefined => known.get(metric);
  const { selectors, groupings } = references(expr);
  if (selectors.length === 0) out.push('references no series');
  for (const { metric, labels } of selectors) {
    const have = labelsOf(metric);
    if (have === undefined) {
      out.push(`unknown series ${metric}`);
      continue;
    }
    for (const l of labels) {
      if (l === '__name__' || TARGET_LABELS.includes(l)) continue;
      if (have === null) out.push(`${metric} has no sample in the scrape, so its labels are unknown (give the fixture one)`);
      else if (!have.has(l)) out.push(`${metric} has no label ${l} (it has ${[...have].join(', ') || 'none'})`);
    }
  }
  for (const g of groupings) {
    for (const l of g.labels) {
      if (TARGET_LABELS.includes(l)) continue;
      for (const metric of g.metrics) {
        const have = labelsOf(metric);
        if (have && !have.has(l)) out.push(`${g.keyword} (${l}): ${metric} has no label ${l}`);
        if (have === null) out.push(`${metric} has no sample in the scrape, so its labels are unknown (give the fixture one)`);
      }
    }
  }
  return out;
}

/** Grafana's label_values(selector, label) (and label_values(label)). */
function variableProblems(query: string, known: Families): string[] {
  const m = /^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query);
  if (!m) return [`not a label_values() query: ${query}`];
  const [, selector, label] = m;
  if (selector === undefined) return [...known.values()].some((l) => l?.has(label)) ? [] : [`no series has a label ${label}`];
  const out = problems(selector, known);
  for (const { metric } of references(selector).selectors) {
    const have = known.get(metric);
    if (have && !have.has(label) && !TARGET_LABELS.includes(label)) out.push(`${metric} has no label ${label}`);
  }
  return out;
}

describe('the PromQL of the dashboard and the alerts', () => {
  let qp: QueueProxyServer;
  let live: LiveAutoscaler;
  let activator: Awaited<ReturnType<typeof startTestActivator>>;
  let apps: App[] = [];
  let api: FakeApiServer;
  let k8s: KubernetesRun;
  const known: Families = new Map();

  beforeAll(async () => {
    qp = await QueueProxyServer.start();
    const clock = new ManualClock(1_700_000_000);
    live = await startLiveAutoscaler({
      logger: silentLogger(), clock, host: '127.0.0.1', httpPort: 0, statsPort: 0,
      tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000,
    });
    const { service } = live;
    const config = { 'stable-window': '6s' };
    // A concurrency revision of a Knative Service, an RPS one, one whose pod fails, one an activator reports for:
    // every labelled series gets a sample, so its labels are known.
    const hello = { namespace: 'apps', name: 'hello-00001' };
    service.upsertRevision(hello, { config }, [{ name: 'c1', url: qp.url('c1'), startedAt: 0 }], 'queue-proxy',
      revisionNamesFromLabels(hello.name, { 'serving.knative.dev/configuration': 'hello', 'serving.knative.dev/service': 'hello' }));
    service.upsertRevision({ namespace: 'apps', name: 'rps' }, { config, annotations: { 'autoscaling.knative.dev/metric': 'rps', 'autoscaling.knative.dev/target': '10' } },
      [{ name: 'r1', url: qp.url('r1'), startedAt: 0 }]);
    service.upsertRevision({ namespace: 'apps', name: 'broken' }, { config }, [{ name: 'bad', url: qp.url('bad'), startedAt: 0 }]);
    service.upsertRevision({ namespace: 'default', name: 'shop' }, { config }, [], 'activator');
    service.setScaleStatus(hello, { currentReplicas: 1, wantReplicas: 2, state: 'applied', reason: '', dryRun: false });
    qp.set('c1', stat(14, 0, 'c1'));
    qp.set('r1', stat(1, 35, 'r1'), 'text');
    qp.set('bad', stat(1), 'error500');

    const slow = await startApp((req, res) => void setTimeout(() => res.end('slow\n'), 150));
    const resets = await startApp((req) => req.socket.destroy());
    apps = [slow, resets];
    activator = await startTestActivator([staticTarget('shop', [slow.port], { containerConcurrency: 1 }), staticTarget('bad', [resets.port])],
      { statsUrl: `ws://127.0.0.1:${live.statsPort}/` });
    // Two at once on a limit of one: the second is held (kpa_activator_hold_seconds); a POST to a resetting pod is an upstream error.
    await Promise.all([send(activator.port, 'shop.example.com'), send(activator.port, 'shop.example.com'), send(activator.port, 'bad.example.com', '/', { method: 'POST', body: 'x' })]);
    const hostile = await StatClient.connect(`ws://127.0.0.1:${live.statsPort}`);
    await hostile.sendRaw(new Uint8Array([1, 2, 3, 255]));
    await until(() => live.statServer.counters.rejected.malformed > 0);
    await hostile.close();
    for (let s = 0; s < 4; s++) {
      clock.advance(1);
      await live.scrapeLoop.runOnce();
      if (s % 2) live.tick();
    }
    families(await (await fetch(`http://127.0.0.1:${live.httpPort}/metrics`)).text(), known);
    families(await (await fetch(`http://127.0.0.1:${activator.adminPort}/metrics`)).text(), known);

    // The Kubernetes-side series, from an in-cluster run against the API test server: a scale
    // patch and its Event, an HPA kpa stands down for, an absent KEDA CRD (a 404), the lease.
    api = await FakeApiServer.start();
    api.uninstallCrd('scaledobjects');
    api.put('configmaps', configAutoscaler({ 'stable-window': '6s' }));
    api.put('deployments', deployment('web', qp.port));
    syncPods(api, 'web');
    qp.set('metrics', stat(35));
    k8s = await startKubernetesRun({
      kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [], dryRun: false,
      podName: 'kpa-0', ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
    });
    await until(() => api.calls.some((c) => c.verb === 'create' && c.resource === 'events'), 10_000);
    api.put('horizontalpodautoscalers', { metadata: { name: 'web', namespace: APP_NAMESPACE }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } } });
    await until(() => k8s.mode.standingDownFor({ namespace: APP_NAMESPACE, name: 'web' }).length === 1);
    await k8s.mode.events.flush();
    families(await (await fetch(`http://127.0.0.1:${k8s.live.httpPort}/metrics`)).text(), known);
  }, 30_000);
  afterAll(async () => {
    await k8s?.close();
    await api?.close();
    await activator?.close(1000);
    await live?.close();
    await qp?.close();
    for (const a of apps) await a.close();
  });

  it('the scrapes declare the series the fixture is meant to produce', () => {
    for (const name of ['kn_revision_pods_desired', 'kn_revision_pods_requested', 'kn_revision_rps_target_per_second', 'kpa_build_info',
      'kpa_scrape_duration_seconds_bucket', 'kpa_activator_hold_seconds_bucket', 'kpa_activator_upstream_errors_total', 'process_cpu_seconds_total',
      'kpa_scale_patches_total', 'kpa_kubernetes_api_errors_total', 'kpa_lease_held', 'kpa_events_total', 'kpa_conflicts']) {
      expect(known.get(name), name).toBeInstanceOf(Set);
    }
    expect([...known.get('kpa_stats_rejected_total')!]).toEqual(['source', 'reason']);
  });

  it('every dashboard expression references only series kpa and kpa activator serve, with labels they carry', () => {
    expect(dashboardExprs.length).toBeGreaterThan(20);
    const found = dashboardExprs.map(({ where, expr }) => ({ where, problems: problems(expr, known) })).filter((p) => p.problems.length);
    expect(found).toEqual([]);
  });

  it('every alert expression does too', () => {
    const found = ruleExprs.map(({ where, expr }) => ({ where, problems: problems(expr, known) })).filter((p) => p.problems.length);
    expect(found).toEqual([]);
  });

  it('every dashboard variable query does too', () => {
    expect(variableQueries).toHaveLength(3);
    const found = variableQueries.map(({ where, query }) => ({ where, problems: variableProblems(query, known) })).filter((p) => p.problems.length);
    expect(found).toEqual([]);
  });

  it('the check catches a misspelt series or label, wherever the label is', () => {
    const misspelt = [
      'max by (kn_revision_name) (kn_revision_pods_desird)',
      'kn_revision_pods_desired{k8s_namespace="apps"}',
      'sum by (kn_revison_name) (kn_revision_pods_desired)',
      'sum(rate(kpa_scrape_duration_seconds_count[5m])) by (reslt)',
      'histogram_quantile(0.99, sum by (le) (rate(kpa_scrape_duration_seconds[5m])))',
      'max by (kn_revision_name) (kn_revision_panic_mode unless on (pod) (kpa_lease_hold == 0))',
      'kpa_lease_held{lease="kpa-leader"} unless on (pdo) kpa_lease_held',
      'sum(rate(kpa_activator_requests_total{nme="shop"}[5m]))',
    ];
    for (const expr of misspelt) expect(problems(expr, known), expr).not.toEqual([]);
    expect(variableProblems('label_values(kn_revision_pods_desired, kn_configuraton_name)', known)).not.toEqual([]);
    // …and passes what is right: strings, durations, variables, functions, keywords and numbers are not series.
    expect(problems('sum by (le) (rate(kpa_scrape_duration_seconds_bucket{job="kpa-metrics", result=~"$x|error"}[$__rate_interval] offset 5m)) > 0.5 and on (pod) kpa_build_info', known)).toEqual([]);
    expect(problems('max by (k8s_namespace_name, kn_revision_name) (kn_revision_panic_mode unless on (pod) (kpa_lease_held == 0)) > 0', known)).toEqual([]);
  });
});
