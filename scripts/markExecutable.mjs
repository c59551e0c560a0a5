// The bundler (scripts/bundleCli.mjs) writes dist/kpa/main.js without the execute bit, and npm links the
// package's own bin to it without fixing that in a fresh clone, so `npx kpa`
// and `./dist/kpa/main.js` fail with "Permission denied" unless the build
// sets it.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/kpa/main.js', import.meta.url), 0o755);
