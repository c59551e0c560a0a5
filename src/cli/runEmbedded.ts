import { systemClock } from '../clock.js';
import { EmbeddedCluster } from '../embedded/embeddedCluster.js';
import { DEMO_DIRECT_REVISIONS, DEMO_SCENARIO } from '../embedded/demoScenario.js';
import { type LiveAutoscaler, type ServiceRunOptions, startLiveAutoscaler } from '../service/liveAutoscaler.js';
import { loadScenario, parseScenario, type Scenario } from '../sim/scenario.js';

export interface EmbeddedRunOptions extends ServiceRunOptions {
  host: string;
  /** A scenario file to run instead of the built-in demo (its policies are ignored: the service decides). */
  scenarioFile?: string;
}

export interface EmbeddedRun {
  live: LiveAutoscaler;
  cluster: EmbeddedCluster;
  close(): Promise<void>;
}

export function embeddedScenario(file?: string): Scenario {
  return file ? loadScenario(file) : parseScenario(DEMO_SCENARIO, 'embedded-demo.yaml');
}

/**
 * `npm start`: the real service plus the embedded demo cluster on
 * 127.0.0.1. In the built-in demo one revision is scraped (Knative's
 * queue-proxy way) and the others go through kpa activator; a scenario
 * file's revisions all go through the activator.
 */
export async function startEmbeddedRun(o: EmbeddedRunOptions): Promise<EmbeddedRun> {
  const scenario = embeddedScenario(o.scenarioFile);
  const live = await startLiveAutoscaler({
    logger: o.logger, host: o.host, httpPort: o.httpPort, statsPort: o.statsPort, recorder: o.recorder, statLimits: o.statLimits,
    metricNames: o.metricNames, statsToken: o.statsToken,
  });
  const statsHost = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  let cluster: EmbeddedCluster;
  try {
    cluster = await EmbeddedCluster.start({
      scenario, directRevisions: o.scenarioFile ? undefined : DEMO_DIRECT_REVISIONS,
      service: live.service, statsUrl: `ws://${statsHost}:${live.statsPort}`, clock: systemClock, logger: o.logger,
      // With --stats-token-file the demo's activator holds the token too, as a deployed one would.
      statsHeaders: o.statsToken && (() => o.statsToken!.header()),
    });
  } catch (err) {
    await live.close();
    throw err;
  }
  return {
    live, cluster,
    async close() {
      await cluster.close();
      await live.close();
    },
  };
}
