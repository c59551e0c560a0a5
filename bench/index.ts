/**
 * `npm run bench`: measures the engine (and, when present, the simulator) and
 * prints the figures next to the goals and Knative's Go code on this kind of
 * machine. A benchmark, not a test: nothing here fails the build.
 */
import { loadavg } from 'node:os';
import { type BenchResult, machine, table } from './harness.js';
import { run as engine } from './engine.js';
import { run as replay } from './replay.js';
import { run as ingest } from './ingest.js';
import { run as scrape } from './scrape.js';
import { run as forwarding } from './forwarding.js';
import { run as activator } from './activator.js';
import { run as soak } from './soak.js';

type Suite = () => Promise<BenchResult[]>;

async function optionalSuite(path: string): Promise<Suite | null> {
  try {
    const mod = (await import(path)) as { run?: Suite };
    return mod.run ?? null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw err;
  }
}

const suites: [string, Suite][] = [['engine', engine], ['replay and start-up, whole process', replay]];
const simulation = await optionalSuite('./simulation.js');
if (simulation) suites.push(['simulation', simulation]);
// The live service over real sockets; each forks its peers (activators, pods) so the service's CPU is its own.
suites.push(['websocket ingest', ingest], ['forwarding stats to the owner replica', forwarding], ['scraping and memory', scrape]);
// The request path: the activator and nginx as reverse proxies to one upstream, each proxy pinned to its own core.
suites.push(['request path (kpa activator)', activator]);
// Last: ten minutes of mixed load (KPA_SOAK_SECONDS shortens it).
suites.push(['soak and memory (hostile load)', soak]);

// `npm run bench -- engine replay` runs only the suites whose names start with one of the words.
const only = process.argv.slice(2);
// The load average says how much else shared the 2 cores while the figures were taken.
console.log(`kpa benchmarks on ${machine()}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0].toFixed(1)}\n`);
for (const [name, suite] of suites) {
  if (only.length > 0 && !only.some((word) => name.startsWith(word))) continue;
  const results = await suite();
  console.log(`## ${name}\n${table(results)}\n`);
}
