import { readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';

let cachedVersion: string | undefined;

/** kpa's version: package.json's, the nearest one above this module (src/service/ or dist/src/service/). */
export function kpaVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      cachedVersion = (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version: string }).version;
      return cachedVersion;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dir.pathname === '/') throw err;
    }
  }
}

/** `kpa_build_info{version, node_version} 1`, as kpa and kpa activator both serve it (tell them apart by the scrape's job). */
export function registerBuildInfo(registry: Registry): void {
  const info = new Gauge({
    name: 'kpa_build_info', help: 'Always 1: the kpa version (package.json) and the Node.js version running it.',
    labelNames: ['version', 'node_version'] as const, registers: [registry],
  });
  info.set({ version: kpaVersion(), node_version: process.version }, 1);
}
