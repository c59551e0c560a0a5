import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ClusterSelection, KubeConfigError, loadKubeConfig, type NoKubeConfig } from '../../src/k8s/kubeConfig.js';
import { tempDir } from '../helpers/tempDir.js';

function kubeconfig(dir: string, name: string, cluster: string, currentContext?: string, more = ''): string {
  const file = join(dir, name);
  writeFileSync(file, `apiVersion: v1
kind: Config
${currentContext ? `current-context: ${currentContext}\n` : ''}clusters: [{name: ${cluster}, cluster: {server: "http://127.0.0.1:1/${cluster}"}}]
users: [{name: ${cluster}-user, user: {token: t}}]
contexts: [{name: ${cluster}, context: {cluster: ${cluster}, user: ${cluster}-user}}${more}]
`);
  return file;
}

/** A fake $HOME, with ~/.kube/config naming cluster `home` when asked. */
function fakeHome(withConfig: boolean): string {
  const home = tempDir('home');
  if (withConfig) {
    mkdirSync(join(home, '.kube'));
    kubeconfig(join(home, '.kube'), 'config', 'home', 'home');
  }
  return home;
}

/** A fake pod's filesystem: the service account token under `root`. */
function fakePod(): { root: string; env: NodeJS.ProcessEnv } {
  const root = tempDir('pod');
  const dir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), 'token');
  writeFileSync(join(dir, 'namespace'), 'kpa-system');
  return { root, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } };
}

const selected = (r: ClusterSelection | NoKubeConfig): ClusterSelection => {
  if (r.kubeConfig === null) throw new Error(`no config: ${r.why}`);
  return r;
};

describe('loadKubeConfig: which config, in kubectl\'s order', () => {
  it('nothing configured: null, saying why (the embedded demo runs)', () => {
    expect(loadKubeConfig({ env: { HOME: fakeHome(false) } })).toEqual({ kubeConfig: null, why: 'KUBECONFIG unset, ~/.kube/config absent, not in a pod' });
    expect(loadKubeConfig({ env: {} })).toEqual({ kubeConfig: null, why: 'KUBECONFIG unset, HOME unset, not in a pod' });
    // An empty KUBECONFIG is unset, as for kubectl.
    expect(loadKubeConfig({ env: { KUBECONFIG: '', HOME: fakeHome(false) } }).kubeConfig).toBeNull();
  });

  it('~/.kube/config when KUBECONFIG is unset, with its current context and server', () => {
    const home = fakeHome(true);
    const s = selected(loadKubeConfig({ env: { HOME: home } }));
    expect(s).toMatchObject({ source: 'home', context: 'home', server: 'http://127.0.0.1:1/home', files: [join(home, '.kube/config')] });
    expect(s.description).toBe(`context home (server http://127.0.0.1:1/home) from ${join(home, '.kube/config')}`);
  });

  it('KUBECONFIG beats ~/.kube/config; --kubeconfig beats both and reads only its file', () => {
    const dir = tempDir('kubeconfig');
    const a = kubeconfig(dir, 'a', 'alpha', 'alpha');
    const b = kubeconfig(dir, 'b', 'beta', 'beta');
    const env = { HOME: fakeHome(true), KUBECONFIG: a };
    expect(selected(loadKubeConfig({ env }))).toMatchObject({ source: 'KUBECONFIG', context: 'alpha', description: `context alpha (server http://127.0.0.1:1/alpha) from ${a} (KUBECONFIG)` });
    const broken = join(dir, 'broken');
    writeFileSync(broken, '{{{ not yaml');
    const flag = selected(loadKubeConfig({ kubeconfig: b, env: { ...env, KUBECONFIG: broken } }));
    expect(flag).toMatchObject({ source: 'kubeconfig-flag', files: [b], context: 'beta', description: `context beta (server http://127.0.0.1:1/beta) from ${b} (--kubeconfig)` });
    expect(flag.kubeConfig.contexts.map((c) => c.name)).toEqual(['beta']);
  });

  it('in a pod: the in-cluster config, unless --kubeconfig, KUBECONFIG or ~/.kube/config says otherwise, as for kubectl', () => {
    const pod = fakePod();
    const s = selected(loadKubeConfig({ env: { ...pod.env, HOME: fakeHome(false) }, root: pod.root }));
    expect(s).toMatchObject({ source: 'in-cluster', server: 'https://10.96.0.1:443', files: [] });
    expect(s.description).toBe('in-cluster config (the pod\'s service account, server https://10.96.0.1:443)');
    expect(s.note).toBeUndefined();
    const home = fakeHome(true);
    const fromHome = selected(loadKubeConfig({ env: { ...pod.env, HOME: home }, root: pod.root }));
    expect(fromHome).toMatchObject({ source: 'home', files: [join(home, '.kube/config')] });
    expect(fromHome.note).toMatch(/this is a pod too, but .* comes before the in-cluster config, as for kubectl/);
    const dir = tempDir('kubeconfig');
    const a = kubeconfig(dir, 'a', 'alpha', 'alpha');
    expect(selected(loadKubeConfig({ env: { ...pod.env, KUBECONFIG: a }, root: pod.root })).source).toBe('KUBECONFIG');
    expect(selected(loadKubeConfig({ env: pod.env, root: pod.root, kubeconfig: a })).source).toBe('kubeconfig-flag');
  });

  it('KUBERNETES_SERVICE_HOST without a service account token is not a pod: ~/.kube/config, or nothing, saying so', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', HOME: fakeHome(false) };
    const none = loadKubeConfig({ env, root: tempDir('nopod') });
    expect(none.kubeConfig).toBeNull();
    expect((none as NoKubeConfig).why).toMatch(/KUBERNETES_SERVICE_HOST is set but there is no service account token at .*\/token$/);
    expect(selected(loadKubeConfig({ env: { ...env, HOME: fakeHome(true) }, root: tempDir('nopod') })).source).toBe('home');
  });

  it('--context selects another context; one that is not there is an error naming those that are', () => {
    const dir = tempDir('kubeconfig');
    const file = kubeconfig(dir, 'two', 'alpha', 'alpha', ', {name: other, context: {cluster: alpha, user: alpha-user}}');
    expect(selected(loadKubeConfig({ kubeconfig: file, context: 'other', env: {} }))).toMatchObject({ context: 'other' });
    expect(() => loadKubeConfig({ kubeconfig: file, context: 'nope', env: {} })).toThrow(new KubeConfigError(`--context nope: no such context in ${file} (contexts: alpha, other)`));
    const pod = fakePod();
    expect(() => loadKubeConfig({ env: pod.env, root: pod.root, context: 'kind-dev' })).toThrow(/--context kind-dev: the in-cluster config has only context inClusterContext/);
  });

  it('merges a KUBECONFIG list as kubectl does: missing files skipped, the first current-context wins', () => {
    const dir = tempDir('kubeconfig');
    const a = kubeconfig(dir, 'a', 'alpha', 'alpha');
    const b = kubeconfig(dir, 'b', 'beta', 'beta');
    const s = selected(loadKubeConfig({ env: { KUBECONFIG: [join(dir, 'missing'), a, b].join(delimiter) } }));
    expect(s.kubeConfig.getCurrentContext()).toBe('alpha');
    expect(s.kubeConfig.getCurrentCluster()?.server).toBe('http://127.0.0.1:1/alpha');
    expect(s.kubeConfig.contexts.map((c) => c.name)).toEqual(['alpha', 'beta']);
    expect(s.description).toBe(`context alpha (server http://127.0.0.1:1/alpha) from KUBECONFIG (${a}, ${b}, merged)`);
    const both = selected(loadKubeConfig({ env: { KUBECONFIG: [a, a].join(delimiter) } })); // a name defined twice: the first wins
    expect(both.kubeConfig.clusters).toHaveLength(1);
    // The second file's context is there to select.
    expect(selected(loadKubeConfig({ env: { KUBECONFIG: [a, b].join(delimiter) }, context: 'beta' })).server).toBe('http://127.0.0.1:1/beta');
  });

  it('a config that is there but broken is an error naming the file, never "no config"', () => {
    const dir = tempDir('kubeconfig');
    expect(() => loadKubeConfig({ env: { KUBECONFIG: '/nonexistent/config' } })).toThrow('KUBECONFIG=/nonexistent/config: no such file');
    expect(() => loadKubeConfig({ kubeconfig: '/nonexistent/config', env: {} })).toThrow('--kubeconfig /nonexistent/config: no such file');
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, 'clusters: [{{{');
    expect(() => loadKubeConfig({ env: { KUBECONFIG: garbage } })).toThrow(new RegExp(`^${garbage}: not a usable kubeconfig: `));
    const noCurrent = kubeconfig(dir, 'nocurrent', 'alpha');
    expect(() => loadKubeConfig({ kubeconfig: noCurrent, env: {} })).toThrow(`${noCurrent}: no current-context; give --context NAME (contexts: alpha)`);
    const dangling = kubeconfig(dir, 'dangling', 'alpha', 'ghost');
    expect(() => loadKubeConfig({ kubeconfig: dangling, env: {} })).toThrow(`${dangling}: current-context ghost is not defined (contexts: alpha)`);
    const noCluster = join(dir, 'nocluster');
    writeFileSync(noCluster, 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: []\nusers: []\ncontexts: [{name: c, context: {cluster: gone, user: u}}]\n');
    expect(() => loadKubeConfig({ kubeconfig: noCluster, env: {} })).toThrow(`${noCluster}: context c names cluster "gone", which is not defined`);
    const home = tempDir('home');
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), 'clusters: [{{{');
    expect(() => loadKubeConfig({ env: { HOME: home } })).toThrow(KubeConfigError);
  });
});
