import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '../log.js';
import { Recorder } from '../recording/recorder.js';
import { DEFAULT_HTTP_PORT, DEFAULT_STATS_PORT, type LiveAutoscaler, startLiveAutoscaler } from '../service/liveAutoscaler.js';
import { parseTargetsFile, TargetsFileError } from '../service/targetsFile.js';
import { loadKubeConfig } from '../k8s/kubeConfig.js';
import { startKubernetesRun } from './runKubernetes.js';
import { type CommandContext, UsageError } from './usage.js';

export const RUN_USAGE = `kpa run [--targets FILE] [--record FILE] [--http-port N] [--stats-port N] [--host ADDR]
        [--namespaces a,b] [--class VALUE] [--dry-run]
  Runs the autoscaler service. In a pod (in-cluster config) or with KUBECONFIG
  set, it autoscales Deployments annotated autoscaling.knative.dev/class: kpa.dev
  (--class) in all namespaces or --namespaces, with leader election; --dry-run
  reports what it would apply without patching. With --targets, a static list of revisions and
  the queue-proxy metric URLs of their pods (YAML, see the README): pods are
  scraped every second, the activator's stats arrive on the websocket port,
  decisions are logged and served on the HTTP port (/api/revisions, /metrics),
  not applied. --record writes everything the deciders see as a recording for
  \`kpa replay\`. Ports default to ${DEFAULT_HTTP_PORT} (HTTP) and ${DEFAULT_STATS_PORT} (stats); 0 picks free ones.`;

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number (0-65535), got ${JSON.stringify(value)}`);
  return n;
}

/** Resolves when the user asks to stop. */
function stopped(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export interface RunHooks {
  /** Called once the service is up (tests read the ports from it). */
  onStarted?: (autoscaler: LiveAutoscaler) => void;
  logger?: Logger;
}

export async function runCommand(ctx: CommandContext, hooks: RunHooks = {}): Promise<number> {
  const { values } = parseArgs({
    args: ctx.args,
    options: {
      targets: { type: 'string' },
      record: { type: 'string' },
      'http-port': { type: 'string' },
      'stats-port': { type: 'string' },
      host: { type: 'string' },
      namespaces: { type: 'string' },
      class: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  const httpPort = port(values['http-port'], DEFAULT_HTTP_PORT, '--http-port');
  const statsPort = port(values['stats-port'], DEFAULT_STATS_PORT, '--stats-port');
  const logger = hooks.logger ?? createLogger();
  let recordStream: WriteStream | undefined;
  let recorder: Recorder | undefined;
  const openRecording = (): void => {
    if (values.record === undefined) return;
    recordStream = createWriteStream(values.record, { flags: 'w' });
    const stream = recordStream;
    recorder = new Recorder({ write: (line) => void stream.write(line) });
  };
  const closeRecording = async (): Promise<void> => {
    const stream = recordStream;
    if (stream) await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  };

  if (values.targets === undefined) {
    const kubeConfig = loadKubeConfig();
    if (!kubeConfig) throw new UsageError('no Kubernetes config (not in a pod, KUBECONFIG unset): give --targets FILE');
    openRecording();
    const run = await startKubernetesRun({
      kubeConfig, logger, host: values.host, httpPort, statsPort, recorder, dryRun: values['dry-run'] ?? false,
      namespaces: (values.namespaces ?? '').split(',').map((n) => n.trim()).filter(Boolean), classValue: values.class,
    });
    hooks.onStarted?.(run.live);
    await stopped(ctx.stopSignal);
    logger.info('stopping');
    await run.close();
    await closeRecording();
    return 0;
  }
  let targets;
  try {
    targets = parseTargetsFile(readFileSync(values.targets, 'utf8'));
  } catch (err) {
    if (err instanceof TargetsFileError) {
      ctx.stderr.write(`kpa run: ${values.targets}: ${err.message}\n`);
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') {
      ctx.stderr.write(`kpa run: cannot read ${values.targets}: ${e.message}\n`);
      return 2;
    }
    throw err;
  }

  openRecording();
  const autoscaler = await startLiveAutoscaler({ logger, httpPort, statsPort, host: values.host, recorder });
  for (const target of targets) {
    autoscaler.service.upsertRevision(target.key, target.settings);
    autoscaler.service.setPods(target.key, target.pods);
  }
  logger.info({ revisions: targets.length }, 'targets mode: decisions are logged and served, not applied');
  hooks.onStarted?.(autoscaler);

  await stopped(ctx.stopSignal);
  logger.info('stopping');
  await autoscaler.close();
  await closeRecording();
  return 0;
}
