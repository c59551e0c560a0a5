import { readFileSync } from 'node:fs';

let cachedVersion: string | undefined;

/** kpa's version: package.json's, the nearest one above this module (src/, dist/src/ or the bundle's dist/kpa/). Reads nothing else, so `kpa --version` stays light. */
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
