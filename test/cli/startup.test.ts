import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KPA_BIN, runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * What each command loads decides how fast it starts: `kpa replay` and
 * `kpa --help` must not load the Kubernetes client, the HTTP server or the
 * websocket library (each a second or more of start-up and tens of MB).
 * The built CLI (the bundle in dist/kpa, one chunk per command) runs with a
 * module hook that logs every module it resolves.
 */
function modulesLoaded(args: string[], input = ''): { status: number | null; stdout: string; modules: string[] } {
  const dir = tempDir('startup');
  const log = join(dir, 'modules.log');
  writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
  return resolved;
}
`);
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
`);
  const result = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, KPA_BIN, ...args], { input, encoding: 'utf8' });
  const modules = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: result.status, stdout: result.stdout, modules };
}

const HEAVY = ['@kubernetes/client-node/', 'fastify/', 'ws/', 'pino/', 'prom-client/', 'undici/', 'yaml/', 'mathjs/'];
const heavyIn = (modules: string[]) => HEAVY.filter((name) => modules.some((url) => url.includes(`/node_modules/${name}`)));

describe.skipIf(!existsSync(KPA_BIN))('what the built kpa loads at start-up', () => {
  it('replay loads the engine and nothing from node_modules (no Kubernetes client, no fastify, no ws)', () => {
    const rec = '{"type":"revision","t":1,"namespace":"a","name":"b","ready":1}\n{"type":"tick","t":2,"namespace":"a","name":"b"}\n';
    const { status, stdout, modules } = modulesLoaded(['replay', '-'], rec);
    expect(status).toBe(0);
    expect(stdout).toBe('{"t":2,"namespace":"a","name":"b","valid":false}\n');
    // The hook saw the replay command's chunk being loaded, so an empty list below means something.
    expect(modules.some((url) => /\/dist\/kpa\/replayCommand-[\w-]+\.js$/.test(url))).toBe(true);
    // Everything kpa loads is the bundle's: not tsc's one file per module beside it.
    expect(modules.filter((url) => url.startsWith('file:') && !url.includes('/dist/kpa/'))).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
    expect(modules.filter((url) => url.includes('/node_modules/'))).toEqual([]);
  });

  it('--help and --version load no command', () => {
    for (const flag of ['--help', '--version']) {
      const { status, modules } = modulesLoaded([flag]);
      expect(status).toBe(0);
      expect(modules.some((url) => url.endsWith(`/${KPA_BIN}`))).toBe(true);
      expect(modules.filter((url) => /Command(-[\w-]+)?\.js$/.test(url) || url.includes('/node_modules/'))).toEqual([]);
    }
  });

  it('the hook does see a command that loads the Kubernetes client', () => {
    // `kpa run --help` loads runCommand and with it the Kubernetes client: the check above can fail.
    const { status, modules } = modulesLoaded(['run', '--help']);
    expect(status).toBe(0);
    expect(heavyIn(modules)).toContain('@kubernetes/client-node/');
  });
});

describe('kpa --version and --help', () => {
  it('--version prints package.json\'s version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('--help names every command in one line each; no command is an error with the same list', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['run', 'activator', 'replay', 'simulate', 'sweep']) expect(help.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    const none = await runCli([]);
    // No command is a usage error: on standard error, as every usage error is.
    expect(none).toEqual({ code: 2, stdout: '', stderr: `kpa: no command given\n\n${help.stdout}` });
  });
});
