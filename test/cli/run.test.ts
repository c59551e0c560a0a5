import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnKpa } from '../helpers/cliHarness.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { tempDir } from '../helpers/tempDir.js';

function tempFile(name: string, content: string): string {
  const file = join(tempDir('run'), name);
  writeFileSync(file, content);
  return file;
}

describe('kpa run --targets: bad files', () => {
  it.each([
    { name: 'unknown field', yaml: 'revisions:\n  - {namespace: a, name: b, replicas: 3}\n', error: /revisions\[0\]\.replicas: unknown field/ },
    { name: 'missing name', yaml: 'revisions:\n  - {namespace: a}\n', error: /revisions\[0\]\.name: must be a non-empty string/ },
    { name: 'bad URL', yaml: 'revisions:\n  - {namespace: a, name: b, pods: [{url: "not a url"}]}\n', error: /revisions\[0\]\.pods\[0\]\.url: not a URL/ },
    { name: 'invalid config value', yaml: 'revisions:\n  - {namespace: a, name: b, config: {stable-window: 5s}}\n', error: /revisions\[0\]\.config\.stable-window: .*6s; 1h0m0s/ },
    { name: 'invalid annotation', yaml: 'revisions:\n  - {namespace: a, name: b, annotations: {autoscaling.knative.dev/min-scale: "-2"}}\n', error: /annotations\.autoscaling\.knative\.dev\/min-scale/ },
    { name: 'no revisions', yaml: 'config: {}\n', error: /revisions: must be a non-empty list/ },
    { name: 'not YAML', yaml: 'revisions: [\n', error: /not valid YAML/ },
  ])('$name → exit 2 naming the field', async ({ yaml, error }) => {
    const { code, stderr } = await runCli(['run', '--targets', tempFile('t.yaml', yaml), '--http-port', '0', '--stats-port', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(error);
  });

  it('rejects stray arguments and bad ports', async () => {
    expect((await runCli(['run', 'stray'])).stderr).toMatch(/unexpected argument "stray"/);
    expect(await runCli(['run', '--targets', 'x', '--embedded'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--targets and --embedded are alternatives/) });
    expect(await runCli(['run', '--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^kpa run /) });
    expect((await runCli(['run', '--targets', 'x', '--http-port', '70000'])).stderr).toMatch(/--http-port must be a port/);
  });

  it.each([
    ['--max-stat-concurrency', 'NaN'], ['--max-stat-concurrency', '-5'], ['--max-stat-rps', 'Infinity'], ['--max-messages-per-frame', '0'],
  ])('%s %s is a usage error naming the flag', async (flag, value) => {
    const run = await runCli(['run', '--targets', 'x', `${flag}=${value}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${flag} must be a positive number`);
  });


  it('a --record or --out path that cannot be written is exit 2 naming it, before anything runs', async () => {
    const missing = join(tempDir('out'), 'no', 'such', 'dir', 'x.jsonl');
    const run = await runCli(['run', '--targets', 'simulations/targets-example.yaml', '--record', missing, '--http-port', '0', '--stats-port', '0']);
    expect(run).toMatchObject({ code: 2, stderr: `kpa run: --record ${missing}: no such file or directory (ENOENT)\n` });
    const simulate = await runCli(['simulate', 'simulations/steady.yaml', '--out', tempDir('out'), '--record', missing]);
    expect(simulate).toMatchObject({ code: 2, stderr: `kpa simulate: --record ${missing}: no such file or directory (ENOENT)\n` });
    const file = tempFile('plain.txt', 'not a directory');
    const sweep = await runCli(['sweep', 'simulations/steady.yaml', '--param', 'config.stable-window=30s', '--out', join(file, 'sub')]);
    expect(sweep).toMatchObject({ code: 2, stderr: `kpa sweep: --out ${join(file, 'sub')}: not a directory (ENOTDIR)\n` });
  });
});

describe('kpa run --targets: the built binary', () => {
  let qp: QueueProxyServer;
  beforeAll(async () => {
    qp = await QueueProxyServer.start();
  });
  afterAll(async () => {
    await qp.close();
  });

  it('scrapes, decides, serves, records, and stops on SIGINT within 5 s', async () => {
    qp.set('pod-a', stat(30, 60, 'pod-a'));
    const targets = tempFile('targets.yaml', [
      'config: {stable-window: 6s}',
      'revisions:',
      '  - namespace: default',
      '    name: hello',
      '    containerConcurrency: 10',
      `    pods: [{name: pod-a, url: "${qp.url('pod-a')}"}]`,
    ].join('\n'));
    const record = join(tempDir('rec'), 'rec.jsonl');
    const kpa = await spawnKpa(['run', '--targets', targets, '--record', record, '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0']);
    const { port } = kpa;
    let desired = -1;
    for (let i = 0; i < 100 && desired < 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const body = (await (await fetch(`http://127.0.0.1:${port}/api/revisions/default/hello`)).json()) as { desiredScale: number };
      desired = body.desiredScale;
    }
    expect(desired).toBe(5); // 30 concurrent ÷ (10 × 70 %) → 5 pods
    const { code, ms } = await kpa.stop('SIGINT');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    const replay = await runCli(['replay', record]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/"desiredPodCount":5/);
  });

  it('--max-stat-concurrency bounds what a pod may report: past it the scrape fails and is counted', async () => {
    qp.set('big', stat(500, 1, 'big'));
    const targets = tempFile('bounded.yaml', [
      'revisions:',
      '  - namespace: default',
      '    name: bounded',
      `    pods: [{name: big, url: "${qp.url('big')}"}]`,
    ].join('\n'));
    const kpa = await spawnKpa(['run', '--targets', targets, '--max-stat-concurrency', '100', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0']);
    let metrics = '';
    for (let i = 0; i < 100 && !/reason="above-bound"/.test(metrics); i++) {
      await new Promise((r) => setTimeout(r, 100));
      metrics = await (await fetch(`http://127.0.0.1:${kpa.port}/metrics`)).text();
    }
    expect(metrics).toMatch(/kpa_stats_rejected_total\{source="scraper",reason="above-bound"\} [1-9]/);
    expect((await kpa.stop('SIGINT')).code).toBe(0);
  });

  it.each([
    ['both', true, true],
    ['knative', false, true],
    ['knative-1.18', true, false],
  ])('--metrics-names %s serves the ≤ 1.18 names: %s, the ≥ 1.19 names: %s', async (names, old, current) => {
    qp.set('named', stat(3, 1, 'named'));
    const targets = tempFile(`names-${names}.yaml`, ['revisions:', '  - namespace: default', '    name: named', `    pods: [{name: named, url: "${qp.url('named')}"}]`].join('\n'));
    const kpa = await spawnKpa(['run', '--targets', targets, '--metrics-names', names, '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0']);
    try {
      let metrics = '';
      for (let i = 0; i < 100 && !/revision_name="named"/.test(metrics); i++) {
        await new Promise((r) => setTimeout(r, 100));
        metrics = await (await fetch(`http://127.0.0.1:${kpa.port}/metrics`)).text();
      }
      expect(/^autoscaler_actual_pods\{/m.test(metrics)).toBe(old);
      expect(/^kn_revision_pods_count\{/m.test(metrics)).toBe(current);
    } finally {
      await kpa.stop('SIGINT');
    }
  });
});
