import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatRejectReason } from '../metrics/stat.js';
import { emptyRejectCounts, type StatServer } from '../metrics/statServer.js';
import type { Recorder } from '../recording/recorder.js';
import type { AutoscalerService, RevisionSnapshot } from './autoscalerService.js';
import { registerBuildInfo } from './buildInfo.js';
import { gzipSmall, type SharedBody, sharedBody } from './sharedBody.js';
import { totalCounter } from './totalCounter.js';

/**
 * Which names the per-revision series are served under: Knative ≤ 1.18's
 * OpenCensus ones (`autoscaler_desired_pods{namespace_name, configuration_name,
 * revision_name, service_name}`), Knative ≥ 1.19's OpenTelemetry ones as its
 * Prometheus exporter writes them (`kn_revision_pods_desired{k8s_namespace_name,
 * kn_configuration_name, kn_revision_name, kn_service_name}`), or both.
 */
export type MetricNames = 'knative-1.18' | 'knative' | 'both';
export const METRIC_NAMES: readonly MetricNames[] = ['knative-1.18', 'knative', 'both'];
export const DEFAULT_METRIC_NAMES: MetricNames = 'both';

/** A metric names value that is none of METRIC_NAMES. */
export class MetricNamesError extends Error {
  constructor(readonly value: string) {
    super(`metric names must be one of ${METRIC_NAMES.join(', ')} (knative: Knative ≥ 1.19's kn_revision_* names; knative-1.18: its autoscaler_* names); got ${JSON.stringify(value)}`);
    this.name = 'MetricNamesError';
  }
}

/** Validates a metric names value (a flag's, say); throws MetricNamesError naming the allowed ones. */
export function parseMetricNames(value: string): MetricNames {
  if ((METRIC_NAMES as readonly string[]).includes(value)) return value as MetricNames;
  throw new MetricNamesError(value);
}

/** The label names of each family, as they are written (sorted, as both Knative exporters write them). */
export const REVISION_LABELS: Readonly<Record<'legacy' | 'knative', readonly string[]>> = {
  legacy: ['configuration_name', 'namespace_name', 'revision_name', 'service_name'],
  knative: ['k8s_namespace_name', 'kn_configuration_name', 'kn_revision_name', 'kn_service_name'],
};

/**
 * One per-revision series under both names. The ≥ 1.19 names are what
 * Knative's OpenTelemetry instruments (pkg/autoscaler/scaling/metrics.go,
 * pkg/reconciler/autoscaling/kpa/metrics.go) become through the OTel
 * Prometheus exporter as Knative configures it (UnderscoreEscapingWithSuffixes):
 * dots become underscores, `{…}` units add nothing, `{request}/s` adds
 * `_per_second`. Labels are written sorted, as both exporters do.
 */
interface RevisionSeries {
  legacy: string;
  knative: string;
  help: string;
  value(s: RevisionSnapshot): number | undefined;
}

const isRps = (s: RevisionSnapshot) => s.spec.scalingMetric === 'rps';
const stable = (w: RevisionSnapshot['concurrency']) => (w.ok ? w.stable : undefined);
const panic = (w: RevisionSnapshot['concurrency']) => (w.ok ? w.panic : undefined);

const REVISION_SERIES: readonly RevisionSeries[] = [
  { legacy: 'autoscaler_desired_pods', knative: 'kn_revision_pods_desired', help: 'Number of pods the autoscaler wants.', value: (s) => (s.desiredScale >= 0 ? s.desiredScale : undefined) },
  {
    legacy: 'autoscaler_requested_pods', knative: 'kn_revision_pods_requested',
    help: 'Number of pods kpa asked of the Deployment (where a mode applies decisions; in shadow mode, what it would ask).',
    value: (s) => (s.scale && s.scale.wantReplicas >= 0 ? s.scale.wantReplicas : undefined),
  },
  { legacy: 'autoscaler_actual_pods', knative: 'kn_revision_pods_count', help: 'Number of pods that are ready.', value: (s) => s.readyPods },
  { legacy: 'autoscaler_stable_request_concurrency', knative: 'kn_revision_concurrency_stable', help: 'Average concurrency over the stable window.', value: (s) => stable(s.concurrency) },
  { legacy: 'autoscaler_panic_request_concurrency', knative: 'kn_revision_concurrency_panic', help: 'Average concurrency over the panic window.', value: (s) => panic(s.concurrency) },
  { legacy: 'autoscaler_target_concurrency_per_pod', knative: 'kn_revision_concurrency_target', help: 'The desired concurrency per pod.', value: (s) => (isRps(s) ? undefined : s.spec.targetValue) },
  { legacy: 'autoscaler_stable_requests_per_second', knative: 'kn_revision_rps_stable_per_second', help: 'Average requests per second over the stable window.', value: (s) => stable(s.rps) },
  { legacy: 'autoscaler_panic_requests_per_second', knative: 'kn_revision_rps_panic_per_second', help: 'Average requests per second over the panic window.', value: (s) => panic(s.rps) },
  { legacy: 'autoscaler_target_requests_per_second', knative: 'kn_revision_rps_target_per_second', help: 'The desired requests per second per pod.', value: (s) => (isRps(s) ? s.spec.targetValue : undefined) },
  { legacy: 'autoscaler_excess_burst_capacity', knative: 'kn_revision_capacity_excess', help: 'Excess burst capacity observed over the panic window.', value: (s) => s.excessBurstCapacity },
  { legacy: 'autoscaler_panic_mode', knative: 'kn_revision_panic_mode', help: '1 if the autoscaler is in panic mode, else 0.', value: (s) => (s.latest?.result.valid ? Number(s.latest.result.panic) : undefined) },
];

/** A label value as the Prometheus text format quotes it. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelString(names: readonly string[], values: readonly string[]): string {
  return `{${names.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`).join(',')}}`;
}

/**
 * The per-revision series in the Prometheus text format, as prom-client
 * writes a registry (HELP and TYPE, a line per revision that has a value,
 * families apart by a blank line, a final newline). Written directly rather
 * than through prom-client gauges: two families of eleven series over a
 * thousand revisions are 22,000 lines, and each revision's label string is
 * made once here, not hashed and formatted for every series.
 */
export function renderRevisionSeries(snapshots: readonly RevisionSnapshot[], names: MetricNames): string {
  const families: ('legacy' | 'knative')[] = names === 'both' ? ['legacy', 'knative'] : [names === 'knative' ? 'knative' : 'legacy'];
  const labels = families.map((family) => snapshots.map((s) => labelString(REVISION_LABELS[family], family === 'legacy'
    ? [s.names.configuration, s.namespace, s.name, s.names.service || 'unknown']
    : [s.namespace, s.names.configuration, s.name, s.names.service])));
  const blocks: string[] = [];
  families.forEach((family, f) => {
    for (const series of REVISION_SERIES) {
      const name = series[family];
      let block = `# HELP ${name} ${series.help}\n# TYPE ${name} gauge`;
      snapshots.forEach((s, i) => {
        const v = series.value(s);
        if (v !== undefined && Number.isFinite(v)) block += `\n${name}${labels[f][i]} ${v}`;
      });
      blocks.push(block);
    }
  });
  return `${blocks.join('\n\n')}\n`;
}

export interface ServiceMetricsOptions {
  /** Default 'both'. */
  metricNames?: MetricNames;
}

/**
 * The service's Prometheus registry: Knative-compatible autoscaler series per
 * revision (desired/requested/actual pods, stable/panic concurrency and RPS,
 * targets, excess burst capacity, panic mode) under Knative ≤ 1.18's names,
 * ≥ 1.19's or both, read from the service when scraped; plus the service's
 * own counters and histograms, kpa_build_info, and prom-client's process and
 * Node.js runtime series.
 */
export class ServiceMetrics {
  /** The service's own series: rendered fresh for every scrape (a few dozen lines, and Node's process and runtime series). */
  readonly registry = new Registry();
  /** Which names the per-revision series are served under. */
  readonly metricNames: MetricNames;
  /** The per-revision series: rendered once per change of the service's read view, however many scrape. */
  private revisionText: { epoch: number; body: SharedBody } | null = null;
  private readonly service: AutoscalerService;
  readonly statsReceived = new Counter({ name: 'kpa_stats_received_total', help: 'Stats recorded into collectors, by source.', labelNames: ['source'], registers: [this.registry] });
  /** The stat server whose own totals the kpa_stat* series read when scraped; refusals by the scraper are counted here. */
  private statServer: StatServer | null = null;
  private readonly scraperRejected = emptyRejectCounts();
  readonly unknownRevisionStats = new Counter({ name: 'kpa_unknown_revision_stats_total', help: 'Stats dropped because no such revision is autoscaled.', registers: [this.registry] });
  readonly scrapeSeconds = new Histogram({
    name: 'kpa_scrape_duration_seconds', help: 'Time to scrape one revision\'s sample of pods.', labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  readonly scrapeLateness = new Histogram({
    name: 'kpa_scrape_lateness_seconds',
    help: 'Seconds from a revision\'s scheduled scrape time in its second to its stat being recorded, per revision-second with a stat.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly scrapeMissed = new Counter({
    name: 'kpa_scrape_missed_seconds_total',
    help: 'Revision-seconds with pods to scrape whose stat did not land in their own second (skipped while the last scrape ran, failed, or later than the second): the windows read them as zero load.',
    registers: [this.registry],
  });
  readonly tickSeconds = new Histogram({
    name: 'kpa_tick_duration_seconds', help: 'Time to run every revision\'s decider once.',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry],
  });

  constructor(service: AutoscalerService, recorder?: Recorder, options: ServiceMetricsOptions = {}) {
    this.service = service;
    registerBuildInfo(this.registry);
    collectDefaultMetrics({ register: this.registry });
    const statServer = () => this.statServer;
    const scraperRejected = this.scraperRejected;
    new Counter({
      name: 'kpa_stats_rejected_total',
      help: 'Stats refused at the edge, by source (activator: the websocket; scraper: a pod) and reason (not-finite, negative, above-bound, missing-field, malformed, too-many-messages: a whole frame).',
      labelNames: ['source', 'reason'], registers: [this.registry],
      collect() {
        this.reset();
        const server = statServer();
        for (const reason of Object.keys(scraperRejected) as StatRejectReason[]) {
          if (server && server.counters.rejected[reason] > 0) this.inc({ source: 'activator', reason }, server.counters.rejected[reason]);
          if (scraperRejected[reason] > 0) this.inc({ source: 'scraper', reason }, scraperRejected[reason]);
        }
      },
    });
    new Gauge({
      name: 'kpa_stat_backlog_bytes', help: 'Websocket frame bytes received and not yet decoded.', registers: [this.registry],
      collect() {
        this.set(statServer()?.backlogBytes ?? 0);
      },
    });
    totalCounter(this.registry, 'kpa_stat_socket_pauses_total', 'Times the stats sockets were paused because decoding fell behind.',
      () => statServer()?.counters.pauses ?? 0);
    totalCounter(this.registry, 'kpa_stats_unauthorized_connections_total', 'Stats connections refused with 401 for a missing or wrong token (--stats-token-file).',
      () => statServer()?.counters.unauthorized ?? 0);
    if (recorder) {
      totalCounter(this.registry, 'kpa_recorder_dropped_events_total', 'Stat and tick events --record dropped because the disk could not keep up.',
        () => recorder.droppedEvents);
    }
    this.metricNames = options.metricNames ?? DEFAULT_METRIC_NAMES;
  }

  /** The stat server to report on (it is started after the metrics exist). */
  watchStatServer(server: StatServer): void {
    this.statServer = server;
  }

  /** A pod's stat the scraper refused. */
  countScraperRejection(reason: StatRejectReason): void {
    this.scraperRejected[reason]++;
  }

  /**
   * The /metrics body: the service's series now, and the revisions' as of the
   * last tick or change (rendered and compressed once however many scrape).
   * Gzipped, the two are gzip members one after the other, a valid stream.
   */
  async render(gzipped = false): Promise<string | Buffer> {
    const { epoch, snapshots } = this.service.readView();
    if (this.revisionText?.epoch !== epoch) this.revisionText = { epoch, body: sharedBody(renderRevisionSeries(snapshots, this.metricNames)) };
    const revisions = this.revisionText.body;
    const own = await this.registry.metrics();
    if (!gzipped) return own + revisions.text;
    return Buffer.concat([gzipSmall(own), await revisions.gzip]);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
