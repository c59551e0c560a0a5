// The CLI users run (package.json's bin, `npm start`, the image) is tsc's
// output of src/ bundled into dist/kpa/: one module per command and a few
// shared chunks instead of the ~30 separate files `kpa replay` would resolve,
// read and compile one by one. Node 20's ESM loader spends most of a short
// command's own start-up on that per-file work (about 0.8 ms per module here),
// and `npm run bench -- replay` measures what the bundle saves, running it in
// turn with tsc's output (README, start-up).
//
// What it keeps:
// - tsc's emit, not a second compiler's: the bundle is built from dist/src,
//   so every decision is the code the tests and conformance checks run.
// - each command's dynamic import() as its own chunk, so `kpa replay` and
//   `--help` still load neither the Kubernetes client nor fastify nor ws
//   (test/cli/startup.test.ts checks the bundle for that).
// - every package from node_modules outside the bundle (a bare specifier
//   stays a bare specifier): they are resolved at run time exactly as from
//   dist/src, and `npm prune --omit=dev` keeps what they need.
// - sweepWorker.js beside the chunk that starts it: src/sim/sweep.ts finds
//   its worker next to itself with new URL('./sweepWorker.js', import.meta.url).
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
const out = dist('kpa');

rmSync(out, { recursive: true, force: true });
await build({
  input: { main: dist('src/cli/main.js'), sweepWorker: dist('src/sim/sweepWorker.js') },
  platform: 'node',
  // Anything that is not a path into dist/src is a package or a node: builtin.
  external: (id) => !id.startsWith('.') && !id.startsWith('/'),
  logLevel: 'warn',
  output: {
    dir: out,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
  },
});
