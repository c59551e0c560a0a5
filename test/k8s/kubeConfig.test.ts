import { writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/k8s/kubeConfig.js';
import { tempDir } from '../helpers/tempDir.js';

function kubeconfig(dir: string, name: string, cluster: string, currentContext?: string): string {
  const file = join(dir, name);
  writeFileSync(file, `apiVersion: v1
kind: Config
${currentContext ? `current-context: ${currentContext}\n` : ''}clusters: [{name: ${cluster}, cluster: {server: "http://127.0.0.1:1/${cluster}"}}]
users: [{name: ${cluster}-user, user: {token: t}}]
contexts: [{name: ${cluster}, context: {cluster: ${cluster}, user: ${cluster}-user}}]
`);
  return file;
}

describe('loadKubeConfig', () => {
  it('no in-cluster config and no KUBECONFIG: null (the embedded demo runs)', () => {
    expect(loadKubeConfig({})).toBeNull();
  });

  it('merges a KUBECONFIG list as kubectl does: missing files skipped, the first current-context wins', () => {
    const dir = tempDir('kubeconfig');
    const a = kubeconfig(dir, 'a', 'alpha', 'alpha');
    const b = kubeconfig(dir, 'b', 'beta', 'beta');
    const kc = loadKubeConfig({ KUBECONFIG: [join(dir, 'missing'), a, b].join(delimiter) })!;
    expect(kc.getCurrentContext()).toBe('alpha');
    expect(kc.getCurrentCluster()?.server).toBe('http://127.0.0.1:1/alpha');
    expect(kc.contexts.map((c) => c.name)).toEqual(['alpha', 'beta']);
    const both = loadKubeConfig({ KUBECONFIG: [a, a].join(delimiter) })!; // a name defined twice: the first wins
    expect(both.clusters).toHaveLength(1);
  });

  it('a KUBECONFIG naming no existing file is an error naming it', () => {
    expect(() => loadKubeConfig({ KUBECONFIG: '/nonexistent/config' })).toThrow('KUBECONFIG=/nonexistent/config: no such file');
  });
});
