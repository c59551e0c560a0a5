import { type ExistingRecording, RecordingOutput } from './recordingOutput.js';
import { createLogger, type Logger } from '../log.js';
import type { Recorder } from '../recording/recorder.js';
import { DEFAULT_HTTP_PORT, DEFAULT_STATS_PORT, type LiveAutoscaler } from '../service/liveAutoscaler.js';
import { parseTargetsFile, TargetsFileError } from '../service/targetsFile.js';
import { type ClusterSelection, KubeConfigError, loadKubeConfig, type NoKubeConfig } from '../k8s/kubeConfig.js';
import { startKubernetesRun } from './runKubernetes.js';
import { startEmbeddedRun } from './runEmbedded.js';
import { assumeAppliedOption, DEFAULT_ASSUME_APPLIED, startTargetsRun } from './runTargets.js';
import { ScenarioError } from '../sim/scenario.js';
import { DEFAULT_STAT_BOUNDS } from '../metrics/stat.js';
import { DEFAULT_METRIC_NAMES, type MetricNames, MetricNamesError, parseMetricNames } from '../service/promMetrics.js';
import { type DecodeLimits, DEFAULT_MAX_MESSAGES_PER_FRAME } from '../metrics/wireStats.js';
import {
  checkFlagModes, type CommandContext, type FlagModes, InputFileError, type OptionTable, parseCommandArgs, portInUseMessage, portOption as port,
  positiveNumberOption, readInputFile, stopped, UsageError,
} from './usage.js';
import { statsTokenOption } from './statsTokenOption.js';

export const RUN_USAGE = `kpa run [--targets FILE [--assume-applied DELAY] | --embedded [SCENARIO]] [--record FILE [--record-append | --force]]
        [--http-port N] [--stats-port N] [--host ADDR]
        [--kubeconfig FILE] [--context NAME] [--namespaces a,b] [--class VALUE] [--dry-run] [--buckets N]
        [--max-stat-concurrency N] [--max-stat-rps N] [--max-messages-per-frame N]
        [--metrics-names knative-1.18|knative|both] [--stats-token-file FILE]
  Runs the autoscaler service, with its dashboard at / on the HTTP port.
  With --embedded, or when there is no Kubernetes config and no --targets, it
  also starts a demo cluster on 127.0.0.1 (demo app pods with cold starts and
  a concurrency limit, kpa activator in front of them, a load generator;
  SCENARIO replaces the built-in demo). With a Kubernetes config — --kubeconfig
  FILE, else KUBECONFIG, else ~/.kube/config, else the in-cluster config
  in a pod, as kubectl; --context NAME to pick a context — it autoscales
  Deployments annotated autoscaling.knative.dev/class: kpa.dev (--class) in
  all namespaces or --namespaces. Replicas split the Deployments into
  --buckets N (default 1) by consistent hashing, each bucket owned by the
  replica holding its Lease (kpa-bucket-00-of-NN…; one bucket: kpa-leader);
  every replica accepts activator stats and forwards them to the owner.
  --dry-run takes no Lease and reports what it would apply without patching. It says at start which mode it chose
  and why; a flag of another mode is refused. With --targets, a static list of revisions and
  the queue-proxy metric URLs of their pods (YAML, see the README): pods are
  scraped every second, the activator's stats arrive on the websocket port,
  decisions are logged and served on the HTTP port (/api/revisions, /metrics),
  not applied: each revision's ready count is assumed to follow what the
  scaler would apply (min/max scale, scale to zero) DELAY later (a Go
  duration, default ${DEFAULT_ASSUME_APPLIED}; 0s: at once; off: the file's pod count for
  good).
  --record writes everything the deciders see as a recording for
  \`kpa replay\`; a FILE that holds something is refused, never truncated,
  unless --record-append adds to it or --force overwrites it. When the disk
  cannot keep up, the recording drops events and says how many where they
  went missing; stopping waits at most 2 s for the rest of it. A stat (from
  the websocket or a pod) above --max-stat-concurrency concurrent requests
  (default ${DEFAULT_STAT_BOUNDS.maxConcurrency}) or --max-stat-rps requests in a second (default
  ${DEFAULT_STAT_BOUNDS.maxRequestsPerSecond}), negative or not finite is refused and counted
  (kpa_stats_rejected_total); a websocket frame of more than
  --max-messages-per-frame messages (default ${DEFAULT_MAX_MESSAGES_PER_FRAME}) is refused whole.
  /metrics serves the revisions' series under Knative <= 1.18's names
  (autoscaler_*), >= 1.19's (kn_revision_*) or both (--metrics-names,
  default ${DEFAULT_METRIC_NAMES}). With --stats-token-file, a stats connection without
  "Authorization: Bearer TOKEN" (any line of FILE) is refused with 401; FILE
  is read again when it changes (a mounted Secret). Ports default
  to ${DEFAULT_HTTP_PORT} (HTTP) and ${DEFAULT_STATS_PORT} (stats); 0 picks free ones.`;

/** The most buckets: each is a Lease every replica reads every retry period (2 s), so the API server pays for each. */
export const MAX_BUCKETS = 100;

/** --buckets N: a whole number from 1 to MAX_BUCKETS. */
function bucketsOption(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > MAX_BUCKETS) {
    throw new UsageError(`--buckets must be a whole number from 1 to ${MAX_BUCKETS}, not ${JSON.stringify(value)}`);
  }
  return n;
}

export interface RunHooks {
  /** Called once the service is up (tests read the ports from it). */
  onStarted?: (autoscaler: LiveAutoscaler) => void;
  logger?: Logger;
}

const RUN_OPTIONS = {
  targets: { type: 'string' },
  'assume-applied': { type: 'string' },
  embedded: { type: 'boolean' },
  record: { type: 'string' },
  'record-append': { type: 'boolean' },
  force: { type: 'boolean' },
  'http-port': { type: 'string' },
  'stats-port': { type: 'string' },
  host: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespaces: { type: 'string' },
  class: { type: 'string' },
  'dry-run': { type: 'boolean' },
  buckets: { type: 'string' },
  'max-stat-concurrency': { type: 'string' },
  'max-stat-rps': { type: 'string' },
  'max-messages-per-frame': { type: 'string' },
  'metrics-names': { type: 'string' },
  'stats-token-file': { type: 'string' },
} as const satisfies OptionTable;

export type RunMode = 'kubernetes' | 'targets' | 'embedded';
const EVERY_MODE: readonly RunMode[] = ['kubernetes', 'targets', 'embedded'];
const KUBERNETES_ONLY = { modes: ['kubernetes'] } as const;

/** Which modes each `kpa run` flag applies to: given in another mode, it is an error, not ignored. */
export const RUN_FLAG_MODES: FlagModes<typeof RUN_OPTIONS, RunMode> = {
  targets: { modes: ['targets'] },
  'assume-applied': { modes: ['targets'], why: 'the other modes apply their decisions' },
  embedded: { modes: ['embedded'] },
  record: { modes: EVERY_MODE },
  'record-append': { modes: EVERY_MODE },
  force: { modes: EVERY_MODE },
  'http-port': { modes: EVERY_MODE },
  'stats-port': { modes: EVERY_MODE },
  host: { modes: EVERY_MODE },
  kubeconfig: KUBERNETES_ONLY,
  context: KUBERNETES_ONLY,
  namespaces: KUBERNETES_ONLY,
  class: KUBERNETES_ONLY,
  'dry-run': KUBERNETES_ONLY,
  buckets: KUBERNETES_ONLY,
  'max-stat-concurrency': { modes: EVERY_MODE },
  'max-stat-rps': { modes: EVERY_MODE },
  'max-messages-per-frame': { modes: EVERY_MODE },
  'metrics-names': { modes: EVERY_MODE },
  'stats-token-file': { modes: EVERY_MODE },
};

const MODE_NAMES: Record<RunMode, string> = { kubernetes: 'Kubernetes mode', targets: '--targets mode', embedded: 'the embedded demo (--embedded)' };

export async function runCommand(ctx: CommandContext, hooks: RunHooks = {}): Promise<number> {
  const { values, positionals } = parseCommandArgs(ctx.args, RUN_OPTIONS, true);
  if (positionals.length > 0 && !values.embedded) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (positionals.length > 1) throw new UsageError('--embedded takes at most one SCENARIO file');
  if (values.targets !== undefined && values.embedded) throw new UsageError('--targets and --embedded are alternatives: give one');
  // The mode: --targets, --embedded, else Kubernetes when a config is found (kubeConfig.ts has the order), else the demo.
  let config: ClusterSelection | NoKubeConfig | null = null;
  let mode: RunMode;
  let current: string;
  if (values.targets !== undefined) [mode, current] = ['targets', MODE_NAMES.targets];
  else if (values.embedded) [mode, current] = ['embedded', MODE_NAMES.embedded];
  else {
    // Flags that need Kubernetes mode are checked against --targets/--embedded first, so a typo there reads no config.
    try {
      config = loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context, env: ctx.env });
    } catch (err) {
      if (err instanceof KubeConfigError) throw new InputFileError(err.message);
      throw err;
    }
    [mode, current] = config.kubeConfig
      ? ['kubernetes', `Kubernetes mode (${config.description})`]
      : ['embedded', `the embedded demo, which runs because there is no Kubernetes config (${config.why})`];
  }
  checkFlagModes(values, RUN_FLAG_MODES, mode, (m) => MODE_NAMES[m].replace(' (--embedded)', ''), current);
  const assumeAppliedSeconds = assumeAppliedOption(values['assume-applied']);
  const httpPort = port(values['http-port'], DEFAULT_HTTP_PORT, '--http-port');
  const statsPort = port(values['stats-port'], DEFAULT_STATS_PORT, '--stats-port');
  const statLimits: DecodeLimits = {
    bounds: {
      maxConcurrency: positiveNumberOption(values['max-stat-concurrency'], DEFAULT_STAT_BOUNDS.maxConcurrency, '--max-stat-concurrency'),
      maxRequestsPerSecond: positiveNumberOption(values['max-stat-rps'], DEFAULT_STAT_BOUNDS.maxRequestsPerSecond, '--max-stat-rps'),
    },
    maxMessagesPerFrame: Math.floor(positiveNumberOption(values['max-messages-per-frame'], DEFAULT_MAX_MESSAGES_PER_FRAME, '--max-messages-per-frame')),
  };
  let metricNames: MetricNames;
  try {
    metricNames = parseMetricNames(values['metrics-names'] ?? DEFAULT_METRIC_NAMES);
  } catch (err) {
    if (err instanceof MetricNamesError) throw new UsageError(`--metrics-names: ${err.message}`);
    throw err;
  }
  const statsToken = statsTokenOption(values['stats-token-file']);
  const buckets = bucketsOption(values.buckets);
  const logger = hooks.logger ?? createLogger();
  if (values['record-append'] && values.force) throw new UsageError('--record-append and --force are alternatives: give one');
  if ((values['record-append'] || values.force) && values.record === undefined) {
    throw new UsageError(`${values.force ? '--force' : '--record-append'} needs --record FILE (it says what to do with an existing recording)`);
  }
  const existing: ExistingRecording = values['record-append'] ? 'append' : values.force ? 'overwrite' : 'refuse';
  let recording: RecordingOutput | undefined;
  let recorder: Recorder | undefined;
  const openRecording = (): void => {
    if (values.record === undefined) return;
    recording = RecordingOutput.open(values.record, existing);
    recorder = recording.recorder;
  };
  const closeRecording = async (): Promise<void> => {
    await recording?.close();
  };

  /** Every mode: report the service up, wait for Ctrl-C, stop everything, flush the recording. */
  const serveUntilStopped = async (run: { live: LiveAutoscaler; close(): Promise<void> }): Promise<number> => {
    hooks.onStarted?.(run.live);
    await stopped(ctx.stopSignal);
    logger.info('stopping');
    await run.close();
    await closeRecording();
    return 0;
  };

  const ports = { '--http-port': httpPort, '--stats-port': statsPort };
  /** A mode's start that failed on a port another process holds: the same message and exit status 2 in every mode. */
  const portInUse = async (err: unknown): Promise<number | null> => {
    const message = portInUseMessage(err, ports);
    if (message === null) return null;
    await closeRecording();
    ctx.stderr.write(`kpa run: ${message}\n`);
    return 2;
  };
  /** The start-up line, on standard error and in the log: which mode, and why. */
  const announce = (fields: Record<string, unknown>, text: string, note?: string): void => {
    ctx.stderr.write(`kpa run: ${text}\n${note ? `kpa run: ${note}\n` : ''}`);
    logger.info({ ...fields, ...(note ? { note } : {}) }, text);
  };

  // Each mode: its recording opened (a refused one is the only error then), its start-up line, its start.
  if (mode === 'embedded') {
    openRecording();
    announce({ mode, scenario: positionals[0] ?? 'built-in demo' }, config === null
      ? `--embedded: starting the embedded demo${positionals[0] ? ` with ${positionals[0]}` : ''}`
      : `no Kubernetes config (${(config as NoKubeConfig).why}): starting the embedded demo`);
    let run;
    try {
      run = await startEmbeddedRun({
        logger, host: values.host ?? '127.0.0.1', httpPort, statsPort, recorder, statLimits, metricNames, statsToken, scenarioFile: positionals[0],
      });
    } catch (err) {
      if (err instanceof ScenarioError) {
        await closeRecording();
        ctx.stderr.write(`kpa run: ${positionals[0]}: ${err.message}\n`);
        return 2;
      }
      const status = await portInUse(err);
      if (status !== null) return status;
      throw err;
    }
    const host = values.host && values.host !== '0.0.0.0' ? values.host : '127.0.0.1';
    // The demo's pods and its activator always listen on 127.0.0.1, whatever --host says.
    const { cluster } = run;
    const routes = cluster.routes();
    const viaActivator = routes.filter((r) => r.path === 'activator');
    const direct = routes.filter((r) => r.path === 'direct');
    ctx.stdout.write([
      'kpa is running with an embedded demo cluster (no Kubernetes needed):',
      `  dashboard  http://${host}:${run.live.httpPort}/`,
      `  metrics    http://${host}:${run.live.httpPort}/metrics`,
      `  API        http://${host}:${run.live.httpPort}/api/revisions`,
      `  activator stats websocket: ws://${host}:${run.live.statsPort}/`,
      ...(cluster.activatorPort === null ? [] : [
        `  kpa activator  http://127.0.0.1:${cluster.activatorPort}/ (its /metrics: http://127.0.0.1:${cluster.activatorAdminPort}/metrics), in front of ${viaActivator.map((r) => r.name).join(', ')}:`,
        ...viaActivator.map((r) => `    curl -H 'Host: ${r.host}' http://127.0.0.1:${cluster.activatorPort}/`),
      ]),
      ...(direct.length === 0 ? [] : [`  ${direct.map((r) => r.name).join(', ')}: requests go straight to the pods, whose queue-proxy stats kpa scrapes`]),
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'));
    return serveUntilStopped(run);
  }
  if (mode === 'kubernetes') {
    const selection = config as ClusterSelection;
    openRecording();
    announce({ mode, source: selection.source, context: selection.context, server: selection.server, files: selection.files },
      `Kubernetes mode: ${selection.description}`, selection.note);
    let run;
    try {
      run = await startKubernetesRun({
        kubeConfig: selection.kubeConfig, logger, host: values.host, httpPort, statsPort, recorder, statLimits, metricNames, statsToken,
        dryRun: values['dry-run'] ?? false, buckets,
        namespaces: (values.namespaces ?? '').split(',').map((n) => n.trim()).filter(Boolean), classValue: values.class,
      });
    } catch (err) {
      const status = await portInUse(err);
      if (status !== null) return status;
      throw err;
    }
    return serveUntilStopped(run);
  }
  const targetsFile = values.targets!;
  const targets = readInputFile(targetsFile, parseTargetsFile, (err): err is TargetsFileError => err instanceof TargetsFileError);
  openRecording();
  announce({ mode, targets: targetsFile, revisions: targets.length }, `--targets mode: ${targets.length} revision${targets.length === 1 ? '' : 's'} from ${targetsFile}; decisions are served, not applied`);
  let run;
  try {
    run = await startTargetsRun({ logger, httpPort, statsPort, host: values.host, recorder, statLimits, metricNames, statsToken, targets, assumeAppliedSeconds });
  } catch (err) {
    const status = await portInUse(err);
    if (status !== null) return status;
    throw err;
  }
  return serveUntilStopped(run);
}
