import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnKpa } from '../helpers/cliHarness.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer } from './apiServer.js';
import { configAutoscaler, deployment } from './cluster.js';
import { tempDir } from '../helpers/tempDir.js';

describe('kpa run with KUBECONFIG (the built binary)', () => {
  it('--dry-run: decides opted-in Deployments in --namespaces, is ready without a Lease, and stops on SIGTERM', async () => {
    const server = await FakeApiServer.start();
    server.put('configmaps', configAutoscaler({}));
    server.put('deployments', deployment('cli', 9090));
    server.put('deployments', deployment('elsewhere', 9090, {}, 1, 'other'));
    server.put('deployments', { metadata: { name: 'ignored', namespace: 'apps' }, spec: { replicas: 1, selector: { matchLabels: { app: 'x' } } } });
    const kubeconfig = join(tempDir('kube'), 'config');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: t',
      `clusters: [{name: t, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: u, user: {token: x}}]',
      'contexts: [{name: t, context: {cluster: t, user: u}}]',
    ].join('\n'));
    const kpa = await spawnKpa(['run', '--dry-run', '--namespaces', 'apps', '--host', '127.0.0.1', '--http-port', '0', '--stats-port', '0'],
      { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: 'kpa-0', POD_NAMESPACE: 'kpa-system' });
    try {
      const base = `http://127.0.0.1:${kpa.port}`;
      await until(() => kpa.stderr().includes('kubernetes mode started'));
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      let names: string[] = [];
      for (let i = 0; i < 100 && names.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        names = ((await (await fetch(`${base}/api/revisions`)).json()) as { revisions: { name: string }[] }).revisions.map((r) => r.name);
      }
      expect(names).toEqual(['cli']);
      const { code, ms } = await kpa.stop('SIGTERM');
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
      // A --dry-run shadow takes no Lease, so it can never keep an acting kpa from leading.
      expect(server.calls.filter((c) => c.resource === 'leases')).toEqual([]);
      expect(server.calls.some((c) => c.verb === 'patch')).toBe(false);
    } finally {
      kpa.kill();
      await server.close();
    }
  });
});
