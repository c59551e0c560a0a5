import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { parsePrometheusText } from '../../src/metrics/prometheusText.js';
import { AutoscalerService, revisionNamesFromLabels } from '../../src/service/autoscalerService.js';
import { kpaVersion } from '../../src/version.js';
import { type LiveAutoscaler, type MetricNames, MetricNamesError, parseMetricNames, startLiveAutoscaler } from '../../src/service/liveAutoscaler.js';
import { METRIC_NAMES, ServiceMetrics } from '../../src/service/promMetrics.js';
import { stat } from '../helpers/engine.js';

const CONFIG = { 'stable-window': '6s' };
let live: LiveAutoscaler | undefined;
afterEach(async () => {
  await live?.close();
  live = undefined;
});

async function start(metricNames?: MetricNames): Promise<LiveAutoscaler> {
  live = await startLiveAutoscaler({
    logger: silentLogger(), clock: new ManualClock(1_700_000_000), host: '127.0.0.1', httpPort: 0, statsPort: 0,
    tickIntervalMs: 3_600_000, scrapeIntervalMs: 3_600_000, ...(metricNames ? { metricNames } : {}),
  });
  return live;
}

/** prom-client writes NaN as "Nan" (Prometheus reads either: Go's ParseFloat ignores case); kpa's parser wants "NaN". */
const parse = (text: string) => parsePrometheusText(text.replace(/ Nan$/gm, ' NaN'));

async function scrape(l: LiveAutoscaler): Promise<string> {
  return (await fetch(`http://127.0.0.1:${l.httpPort}/metrics`)).text();
}

/** A revision with load and a decision, so that every per-revision series has a value. */
function loaded(l: LiveAutoscaler, name: string, names?: Parameters<AutoscalerService['upsertRevision']>[4]): void {
  const key = { namespace: 'apps', name };
  l.service.upsertRevision(key, { config: CONFIG }, [], 'activator', names);
  l.service.recordStat(key, stat(21), 'activator');
  l.service.tickRevision(key);
}

describe('metric names option', () => {
  it('parses the three values and refuses anything else, naming them', () => {
    for (const v of ['knative-1.18', 'knative', 'both']) expect(parseMetricNames(v)).toBe(v);
    expect(() => parseMetricNames('knative-1.19')).toThrow(MetricNamesError);
    expect(() => parseMetricNames('')).toThrow(/one of knative-1\.18, knative, both.*got ""/);
    expect(METRIC_NAMES).toEqual(['knative-1.18', 'knative', 'both']);
  });

  it('serves both families by default, labelled as Knative ≤ 1.18 and ≥ 1.19 label them', async () => {
    const l = await start();
    loaded(l, 'hello-00001', revisionNamesFromLabels('hello-00001', { 'serving.knative.dev/configuration': 'hello', 'serving.knative.dev/service': 'hello' }));
    loaded(l, 'shop', revisionNamesFromLabels('shop', { 'app.kubernetes.io/name': 'shop' }));
    const samples = parse(await scrape(l));
    const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    // 21 concurrent on target 70 (100 × 0.7): one pod.
    expect(value('autoscaler_desired_pods', { revision_name: 'hello-00001' })!.labels)
      .toEqual({ configuration_name: 'hello', namespace_name: 'apps', revision_name: 'hello-00001', service_name: 'hello' });
    expect(value('kn_revision_pods_desired', { kn_revision_name: 'hello-00001' })!.labels)
      .toEqual({ k8s_namespace_name: 'apps', kn_configuration_name: 'hello', kn_revision_name: 'hello-00001', kn_service_name: 'hello' });
    // A plain Deployment is its own configuration and has no Knative Service ("unknown" in ≤ 1.18, as Knative wrote an empty one).
    expect(value('autoscaler_desired_pods', { revision_name: 'shop' })!.labels).toMatchObject({ configuration_name: 'shop', service_name: 'unknown' });
    expect(value('kn_revision_pods_desired', { kn_revision_name: 'shop' })!.labels).toMatchObject({ kn_configuration_name: 'shop', kn_service_name: '' });
    const pairs: [string, string, number][] = [
      ['autoscaler_desired_pods', 'kn_revision_pods_desired', 1],
      ['autoscaler_actual_pods', 'kn_revision_pods_count', 0],
      ['autoscaler_stable_request_concurrency', 'kn_revision_concurrency_stable', 21],
      ['autoscaler_panic_request_concurrency', 'kn_revision_concurrency_panic', 21],
      ['autoscaler_target_concurrency_per_pod', 'kn_revision_concurrency_target', 70],
      ['autoscaler_stable_requests_per_second', 'kn_revision_rps_stable_per_second', 0],
      ['autoscaler_panic_requests_per_second', 'kn_revision_rps_panic_per_second', 0],
      ['autoscaler_panic_mode', 'kn_revision_panic_mode', 0],
    ];
    for (const [legacy, knative, v] of pairs) {
      expect(value(legacy, { revision_name: 'shop' })?.value, legacy).toBe(v);
      expect(value(knative, { kn_revision_name: 'shop' })?.value, knative).toBe(v);
    }
    expect(value('autoscaler_excess_burst_capacity', { revision_name: 'shop' })?.value).toBe(value('kn_revision_capacity_excess', { kn_revision_name: 'shop' })?.value);
    // Requested pods only where a mode applies decisions; an RPS target only for an RPS revision.
    expect(value('kn_revision_pods_requested', {})).toBeUndefined();
    expect(value('kn_revision_rps_target_per_second', {})).toBeUndefined();
    l.service.setScaleStatus({ namespace: 'apps', name: 'shop' }, { currentReplicas: 0, wantReplicas: 1, state: 'applied', reason: '', dryRun: false });
    const after = parse(await scrape(l));
    expect(after.find((s) => s.name === 'autoscaler_requested_pods' && s.labels.revision_name === 'shop')?.value).toBe(1);
    expect(after.find((s) => s.name === 'kn_revision_pods_requested' && s.labels.kn_revision_name === 'shop')?.value).toBe(1);
  });

  it('serves one family when asked, and the service\'s own series either way', async () => {
    for (const names of ['knative', 'knative-1.18'] as const) {
      const l = await start(names);
      loaded(l, 'one');
      const body = await scrape(l);
      expect(/^kn_revision_/m.test(body), names).toBe(names === 'knative');
      expect(/^autoscaler_/m.test(body), names).toBe(names === 'knative-1.18');
      expect(body).toMatch(/^kpa_tick_duration_seconds_count \d+$/m);
      await l.close();
      live = undefined;
    }
  });

  it('escapes label values and writes a body the text format parses', () => {
    const service = new AutoscalerService({ clock: new ManualClock(0), logger: silentLogger() });
    const metrics = new ServiceMetrics(service);
    service.upsertRevision({ namespace: 'a', name: 'b' }, { config: CONFIG }, [], 'queue-proxy', { configuration: 'odd"\\\nname', service: '' });
    return metrics.render().then((body) => {
      const s = parse(body as string).find((x) => x.name === 'kn_revision_pods_count')!;
      expect(s.labels.kn_configuration_name).toBe('odd"\\\nname');
      expect(body).toContain('kn_configuration_name="odd\\"\\\\\\nname"');
    });
  });
});

describe('build info and process metrics', () => {
  it('kpa serves kpa_build_info and prom-client\'s process and Node.js series', async () => {
    const l = await start();
    const samples = parse(await scrape(l));
    const info = samples.filter((s) => s.name === 'kpa_build_info');
    expect(info).toEqual([{ name: 'kpa_build_info', labels: { version: kpaVersion(), node_version: process.version }, value: 1 }]);
    expect(kpaVersion()).toMatch(/^\d+\.\d+\.\d+/);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(samples.some((s) => s.name === name), name).toBe(true);
    }
  });
});
