import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StatRejectReason } from '../metrics/stat.js';
import { emptyRejectCounts, type StatServer } from '../metrics/statServer.js';
import type { Recorder } from '../recording/recorder.js';
import type { AutoscalerService, RevisionSnapshot } from './autoscalerService.js';
import { gzipSmall, type SharedBody, sharedBody } from './sharedBody.js';

const LABELS = ['namespace_name', 'revision_name'] as const;

/**
 * The service's Prometheus registry: Knative-compatible autoscaler series per
 * revision (pkg/autoscaler/metrics: desired/actual pods, stable/panic
 * concurrency and RPS, targets, excess burst capacity, panic mode), read from
 * the service when scraped, plus the service's own counters and histograms.
 */
export class ServiceMetrics {
  /** The service's own series: rendered fresh for every scrape (a few dozen lines). */
  readonly registry = new Registry();
  /** The per-revision series: rendered once per change of the service's read view, however many scrape. */
  private readonly revisionRegistry = new Registry();
  private revisionText: { epoch: number; body: Promise<SharedBody> } | null = null;
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
  readonly tickSeconds = new Histogram({
    name: 'kpa_tick_duration_seconds', help: 'Time to run every revision\'s decider once.',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry],
  });

  constructor(service: AutoscalerService, recorder?: Recorder) {
    this.service = service;
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
    new Counter({
      name: 'kpa_stat_socket_pauses_total', help: 'Times the stats sockets were paused because decoding fell behind.', registers: [this.registry],
      collect() {
        this.reset();
        this.inc(statServer()?.counters.pauses ?? 0);
      },
    });
    if (recorder) {
      new Counter({
        name: 'kpa_recorder_dropped_events_total', help: 'Stat and tick events --record dropped because the disk could not keep up.', registers: [this.registry],
        collect() {
          this.reset();
          this.inc(recorder.droppedEvents);
        },
      });
    }
    const perRevision = (name: string, help: string, value: (s: RevisionSnapshot) => number | undefined): void => {
      new Gauge({
        name, help, labelNames: LABELS, registers: [this.revisionRegistry],
        collect() {
          this.reset();
          for (const s of service.readView().snapshots) {
            const v = value(s);
            if (v !== undefined && Number.isFinite(v)) this.set({ namespace_name: s.namespace, revision_name: s.name }, v);
          }
        },
      });
    };
    const isRps = (s: RevisionSnapshot) => s.spec.scalingMetric === 'rps';
    const stable = (w: RevisionSnapshot['concurrency']) => (w.ok ? w.stable : undefined);
    const panic = (w: RevisionSnapshot['concurrency']) => (w.ok ? w.panic : undefined);
    perRevision('autoscaler_desired_pods', 'Number of pods the autoscaler wants.', (s) => (s.desiredScale >= 0 ? s.desiredScale : undefined));
    perRevision('autoscaler_actual_pods', 'Number of pods that are ready.', (s) => s.readyPods);
    perRevision('autoscaler_stable_request_concurrency', 'Average concurrency over the stable window.', (s) => stable(s.concurrency));
    perRevision('autoscaler_panic_request_concurrency', 'Average concurrency over the panic window.', (s) => panic(s.concurrency));
    perRevision('autoscaler_target_concurrency_per_pod', 'The desired concurrency per pod.', (s) => (isRps(s) ? undefined : s.spec.targetValue));
    perRevision('autoscaler_stable_requests_per_second', 'Average requests per second over the stable window.', (s) => stable(s.rps));
    perRevision('autoscaler_panic_requests_per_second', 'Average requests per second over the panic window.', (s) => panic(s.rps));
    perRevision('autoscaler_target_requests_per_second', 'The desired requests per second per pod.', (s) => (isRps(s) ? s.spec.targetValue : undefined));
    perRevision('autoscaler_excess_burst_capacity', 'Excess burst capacity observed over the panic window.', (s) => s.excessBurstCapacity);
    perRevision('autoscaler_panic_mode', '1 if the autoscaler is in panic mode, else 0.', (s) => (s.latest?.result.valid ? Number(s.latest.result.panic) : undefined));
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
    const { epoch } = this.service.readView();
    if (this.revisionText?.epoch !== epoch) this.revisionText = { epoch, body: this.revisionRegistry.metrics().then(sharedBody) };
    const [own, revisions] = await Promise.all([this.registry.metrics(), this.revisionText.body]);
    if (!gzipped) return own + revisions.text;
    return Buffer.concat([gzipSmall(own), await revisions.gzip]);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
