import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_FLAG_MODES, type RunMode } from '../../src/cli/runCommand.js';
import { KPA_BIN, runCli, spawnKpa } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';
import { FakeApiServer } from '../k8s/apiServer.js';
import { configAutoscaler } from '../k8s/cluster.js';

/** An environment with nothing configured: a fake $HOME without ~/.kube/config, no KUBECONFIG, not in a pod. */
const bareEnv = (): NodeJS.ProcessEnv => ({ HOME: tempDir('home') });

function kubeconfigFile(server: string, context = 't'): string {
  const file = join(tempDir('kube'), 'config');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', `current-context: ${context}`,
    `clusters: [{name: t, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
    'users: [{name: u, user: {token: x}}]',
    `contexts: [{name: ${context}, context: {cluster: t, user: u}}, {name: other, context: {cluster: t, user: u}}]`,
  ].join('\n'));
  return file;
}

/** How a test puts `kpa run` in each mode without starting it: the arguments and the environment. */
function selectMode(mode: RunMode | 'demo'): { args: string[]; env: NodeJS.ProcessEnv } {
  switch (mode) {
    case 'targets': return { args: ['--targets', 'simulations/targets-example.yaml'], env: bareEnv() };
    case 'embedded': return { args: ['--embedded'], env: bareEnv() };
    case 'demo': return { args: [], env: bareEnv() };
    case 'kubernetes': return { args: [], env: { ...bareEnv(), KUBECONFIG: kubeconfigFile('http://127.0.0.1:1') } };
  }
}

const flagArgs = (flag: string): string[] => {
  const booleans = ['record-append', 'force', 'dry-run', 'embedded'];
  return booleans.includes(flag) ? [`--${flag}`] : [`--${flag}`, flag === 'assume-applied' ? '5s' : 'x'];
};

// Every flag × every mode it does not apply to (the flags that choose a mode cannot be given in another).
const misplaced = Object.entries(RUN_FLAG_MODES).flatMap(([flag, row]) => (['kubernetes', 'targets', 'embedded', 'demo'] as const)
  .filter((mode) => !row.modes.includes(mode === 'demo' ? 'embedded' : mode))
  // --targets and --embedded choose a mode; --kubeconfig FILE is read when nothing else chose one.
  .filter((mode) => flag !== 'targets' && flag !== 'embedded' && !(flag === 'kubeconfig' && mode === 'demo'))
  .map((mode) => ({ flag, mode })));

describe('kpa run: a flag that does not apply to the mode is an error', () => {
  it('the table covers the flags that are not for every mode', () => {
    expect(misplaced.map(({ flag, mode }) => `${flag}@${mode}`).sort()).toEqual([
      'assume-applied@demo', 'assume-applied@embedded', 'assume-applied@kubernetes', 'buckets@demo', 'buckets@embedded', 'buckets@targets',
      'class@demo', 'class@embedded', 'class@targets', 'context@demo', 'context@embedded', 'context@targets',
      'dry-run@demo', 'dry-run@embedded', 'dry-run@targets', 'kubeconfig@embedded', 'kubeconfig@targets',
      'namespaces@demo', 'namespaces@embedded', 'namespaces@targets',
    ]);
  });

  it.each(['0', '1.5', '101', 'ten', ''])('--buckets %j in Kubernetes mode → exit 2 saying what it must be', async (value) => {
    const { args, env } = selectMode('kubernetes');
    const { code, stdout, stderr } = await runCli(['run', ...args, '--buckets', value, '--http-port', '0', '--stats-port', '0'], '', env);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain(`kpa run: --buckets must be a whole number from 1 to 100, not ${JSON.stringify(value)}`);
  });

  it.each(misplaced)('--$flag in $mode mode → exit 2 naming the flag and the mode', async ({ flag, mode }) => {
    const { args, env } = selectMode(mode);
    const { code, stdout, stderr } = await runCli(['run', ...args, ...flagArgs(flag), '--http-port', '0', '--stats-port', '0'], '', env);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    const expected = {
      kubernetes: /not to Kubernetes mode \(context t \(server http:\/\/127\.0\.0\.1:1\) from .*\(KUBECONFIG\)\)/,
      targets: /not to --targets mode/,
      embedded: /not to the embedded demo \(--embedded\)/,
      demo: /not to the embedded demo, which runs because there is no Kubernetes config \(KUBECONFIG unset, ~\/\.kube\/config absent, not in a pod\)/,
    }[mode];
    expect(stderr.split('\n')[0]).toMatch(new RegExp(`^kpa run: --${flag} applies to `));
    expect(stderr.split('\n')[0]).toMatch(expected);
  });

  it('--kubeconfig and --context with nothing else configured are not "the demo": the file is used, or its absence is the error', async () => {
    const missing = await runCli(['run', '--kubeconfig', '/nonexistent/kubeconfig'], '', bareEnv());
    expect(missing).toEqual({ code: 2, stdout: '', stderr: 'kpa run: --kubeconfig /nonexistent/kubeconfig: no such file\n' });
    const context = await runCli(['run', '--context', 'kind-dev'], '', bareEnv());
    expect(context).toMatchObject({ code: 2, stderr: expect.stringMatching(/^kpa run: --context applies to Kubernetes mode, not to the embedded demo, which runs because there is no Kubernetes config/) });
  });

  it('an unknown --context is an error naming the contexts there are; a broken kubeconfig names the file', async () => {
    const file = kubeconfigFile('http://127.0.0.1:1');
    expect(await runCli(['run', '--kubeconfig', file, '--context', 'kind-dev'], '', bareEnv()))
      .toEqual({ code: 2, stdout: '', stderr: `kpa run: --context kind-dev: no such context in ${file} (contexts: t, other)\n` });
    const home = tempDir('home');
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), 'clusters: [{{{');
    const broken = await runCli(['run'], '', { HOME: home });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(new RegExp(`^kpa run: ${join(home, '.kube', 'config')}: not a usable kubeconfig: `));
  });

  it('an unknown flag suggests the closest of run\'s own', async () => {
    const { code, stderr } = await runCli(['run', '--stat-port', '0'], '', bareEnv());
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('kpa run: Unknown option \'--stat-port\' (did you mean --stats-port?)');
  });
});

describe('a port another process holds: the same message and exit 2 in every mode', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  const busyPort = async (): Promise<number> => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  };

  it('--targets mode', async () => {
    const port = await busyPort();
    const run = await runCli(['run', '--targets', 'simulations/targets-example.yaml', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', String(port)], '', bareEnv());
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`kpa run: port ${port} on 127.0.0.1 (--stats-port) is in use by another process; pick another with --stats-port N (0 = any free port)\n`);
  });

  it('Kubernetes mode', async () => {
    const port = await busyPort();
    const env = { ...bareEnv(), KUBECONFIG: kubeconfigFile('http://127.0.0.1:1') };
    const run = await runCli(['run', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', String(port)], '', env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`kpa run: port ${port} on 127.0.0.1 (--stats-port) is in use by another process; pick another with --stats-port N (0 = any free port)\n`);
  });

  it('kpa activator (the built binary)', async () => {
    const port = await busyPort();
    const routes = join(tempDir('routes'), 'routes.yaml');
    writeFileSync(routes, '- {host: a.example.com, namespace: default, name: a, endpoints: ["http://127.0.0.1:1"]}\n');
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, [KPA_BIN, 'activator', '--routes', routes, '--host', '127.0.0.1', '--port', String(port), '--admin-port', '0'], { encoding: 'utf8', env: bareEnv() });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`kpa activator: port ${port} on 127.0.0.1 (--port) is in use by another process; pick another with --port N (0 = any free port)\n`);
  });
});

describe('kpa run says at start which mode it chose and why (the built binary)', () => {
  it('Kubernetes mode from --kubeconfig: one plain line and one log line with the context and server', async () => {
    const api = await FakeApiServer.start();
    api.put('configmaps', configAutoscaler({}));
    const file = kubeconfigFile(api.url);
    const kpa = await spawnKpa(['run', '--kubeconfig', file, '--dry-run', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0'],
      { ...bareEnv(), PATH: process.env.PATH, POD_NAME: 'kpa-0' });
    try {
      const lines = kpa.stderr().split('\n');
      expect(lines).toContain(`kpa run: Kubernetes mode: context t (server ${api.url}) from ${file} (--kubeconfig)`);
      const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.mode === 'kubernetes');
      expect(logged).toMatchObject({ level: 'info', source: 'kubeconfig-flag', context: 't', server: api.url, files: [file], msg: `Kubernetes mode: context t (server ${api.url}) from ${file} (--kubeconfig)` });
      expect(logged!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect((await kpa.stop('SIGTERM')).code).toBe(0);
    } finally {
      kpa.kill();
      await api.close();
    }
  });

  it('nothing configured: the embedded demo, saying why', async () => {
    const kpa = await spawnKpa(['run', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0'], { ...bareEnv(), PATH: process.env.PATH });
    try {
      expect(kpa.stderr()).toContain('kpa run: no Kubernetes config (KUBECONFIG unset, ~/.kube/config absent, not in a pod): starting the embedded demo\n');
      expect((await kpa.stop('SIGINT')).code).toBe(0);
    } finally {
      kpa.kill();
    }
  });
});
