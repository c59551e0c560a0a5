import { Gauge, type Registry } from 'prom-client';
import { kpaVersion } from '../version.js';

/** `kpa_build_info{version, node_version} 1`, as kpa and kpa activator both serve it (tell them apart by the scrape's job). */
export function registerBuildInfo(registry: Registry): void {
  const info = new Gauge({
    name: 'kpa_build_info', help: 'Always 1: the kpa version (package.json) and the Node.js version running it.',
    labelNames: ['version', 'node_version'] as const, registers: [registry],
  });
  info.set({ version: kpaVersion(), node_version: process.version }, 1);
}
