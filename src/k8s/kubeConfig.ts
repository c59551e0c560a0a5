import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Where a pod's service account credentials are mounted. */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigOptions {
  /** `--kubeconfig FILE`: that file only; KUBECONFIG, ~/.kube/config and the in-cluster config are not looked at. */
  kubeconfig?: string;
  /** `--context NAME`: instead of the config's current-context. */
  context?: string;
  /** KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST/PORT (injectable for tests). */
  env?: NodeJS.ProcessEnv;
  /** Prefixed to the service account's path (tests fake a pod's files under a directory). */
  root?: string;
}

/** Which Kubernetes config `kpa` uses, and how to say so at start-up. */
export interface ClusterSelection {
  kubeConfig: KubeConfig;
  source: 'kubeconfig-flag' | 'KUBECONFIG' | 'in-cluster' | 'home';
  /** The files read, in merge order ([] in-cluster). */
  files: string[];
  context: string;
  server: string;
  /** e.g. `context kind-dev (server https://127.0.0.1:6443) from /home/u/.kube/config`. */
  description: string;
  /** Something else worth saying: a config that exists but is not used. */
  note?: string;
}

/** Nothing configured: why, e.g. `KUBECONFIG unset, ~/.kube/config absent, not in a pod`. */
export interface NoKubeConfig {
  kubeConfig: null;
  why: string;
}

/** A Kubernetes config that is there but cannot be used (a missing or broken file, an unknown context): exit status 2. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

/**
 * Finds the Kubernetes config in kubectl's order (client-node's
 * loadFromDefault), with --kubeconfig first as for kubectl:
 *
 * 1. `--kubeconfig FILE`: that file only;
 * 2. KUBECONFIG: its files, merged as kubectl merges them (missing ones
 *    skipped; the first file to define a name wins, and the first file's
 *    current-context);
 * 3. `$HOME/.kube/config`;
 * 4. in a pod (KUBERNETES_SERVICE_HOST and a service account token): the
 *    in-cluster config.
 *
 * A pod whose home directory holds a kubeconfig therefore uses that file, as
 * kubectl would there; the start-up line says so, and that the pod's service
 * account is not used. (kpa's image has none.) Before this, the in-cluster
 * config beat even KUBECONFIG.
 *
 * Returns the reason when nothing is configured (the caller may then start
 * the embedded demo); throws KubeConfigError for a config that is there but
 * broken, naming the file, and for a `--context` it does not define, naming
 * the contexts it does.
 */
export function loadKubeConfig(options: KubeConfigOptions = {}): ClusterSelection | NoKubeConfig {
  const env = options.env ?? process.env;
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig)) throw new KubeConfigError(`--kubeconfig ${options.kubeconfig}: no such file`);
    return select(loadFiles([options.kubeconfig]), 'kubeconfig-flag', [options.kubeconfig], options.context, `from ${options.kubeconfig} (--kubeconfig)`);
  }
  if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(delimiter).filter(Boolean);
    const files = listed.filter((file) => existsSync(file));
    if (files.length === 0) throw new KubeConfigError(`KUBECONFIG=${env.KUBECONFIG}: no such file${listed.length > 1 ? 's' : ''}`);
    const from = files.length === 1 ? `from ${files[0]} (KUBECONFIG)` : `from KUBECONFIG (${files.join(', ')}, merged)`;
    return select(loadFiles(files), 'KUBECONFIG', files, options.context, from);
  }
  const home = env.HOME || env.USERPROFILE;
  const homeConfig = home ? join(home, '.kube', 'config') : undefined;
  const hasHomeConfig = homeConfig !== undefined && existsSync(homeConfig);
  const tokenFile = `${options.root ?? ''}${SERVICE_ACCOUNT_DIR}/token`;
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(tokenFile);
  if (hasHomeConfig) {
    const selection = select(loadFiles([homeConfig]), 'home', [homeConfig], options.context, `from ${homeConfig}`);
    if (inPod) selection.note = `this is a pod too, but ${homeConfig} comes before the in-cluster config, as for kubectl: the pod's service account is not used`;
    return selection;
  }
  if (inPod) return inCluster(env, options.root ?? '', options.context);
  const pod = env.KUBERNETES_SERVICE_HOST ? `KUBERNETES_SERVICE_HOST is set but there is no service account token at ${tokenFile}` : 'not in a pod';
  return { kubeConfig: null, why: `KUBECONFIG unset, ${home ? '~/.kube/config absent' : 'HOME unset'}, ${pod}` };
}

/** One file, or a KUBECONFIG list merged as kubectl does. */
function loadFiles(files: readonly string[]): KubeConfig {
  const kc = read(files[0]);
  for (const file of files.slice(1)) {
    const more = read(file);
    // The first file to define a name wins, as kubectl merges.
    more.clusters = more.clusters.filter((c) => !kc.clusters.some((x) => x.name === c.name));
    more.users = more.users.filter((u) => !kc.users.some((x) => x.name === u.name));
    more.contexts = more.contexts.filter((c) => !kc.contexts.some((x) => x.name === c.name));
    kc.mergeConfig(more, Boolean(kc.currentContext));
  }
  return kc;
}

function read(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new KubeConfigError(`${file}: not a usable kubeconfig: ${(err as Error).message.split('\n')[0]}`);
  }
  return kc;
}

const contextList = (kc: KubeConfig): string => (kc.contexts.length ? `contexts: ${kc.contexts.map((c) => c.name).join(', ')}` : 'it defines no context');

/** The context (--context, else current-context) and its cluster, each of which must be there. */
function select(kc: KubeConfig, source: ClusterSelection['source'], files: string[], context: string | undefined, from: string): ClusterSelection {
  const where = source === 'KUBECONFIG' ? `KUBECONFIG (${files.join(', ')})` : files[0];
  const name = context ?? kc.currentContext;
  if (!name) throw new KubeConfigError(`${where}: no current-context; give --context NAME (${contextList(kc)})`);
  const found = kc.getContextObject(name);
  if (!found) {
    throw new KubeConfigError(context !== undefined
      ? `--context ${context}: no such context in ${where} (${contextList(kc)})`
      : `${where}: current-context ${name} is not defined (${contextList(kc)})`);
  }
  kc.setCurrentContext(name);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConfigError(`${where}: context ${name} names cluster ${JSON.stringify(found.cluster)}, which is not defined`);
  if (!cluster.server) throw new KubeConfigError(`${where}: cluster ${cluster.name} has no server`);
  return { kubeConfig: kc, source, files, context: name, server: cluster.server, description: `context ${name} (server ${cluster.server}) ${from}` };
}

/** The pod's service account, against the API server the pod's environment names. */
function inCluster(env: NodeJS.ProcessEnv, root: string, context: string | undefined): ClusterSelection {
  const kc = new KubeConfig();
  kc.loadFromCluster(root);
  // loadFromCluster reads process.env; the server is taken from `env` (the same one outside tests).
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  kc.loadFromOptions({ clusters: kc.clusters.map((c) => ({ ...c, server })), users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
  if (context !== undefined && context !== kc.currentContext) {
    throw new KubeConfigError(`--context ${context}: the in-cluster config has only context ${kc.currentContext} (give --kubeconfig FILE to use another config)`);
  }
  return {
    kubeConfig: kc, source: 'in-cluster', files: [], context: kc.currentContext, server,
    description: `in-cluster config (the pod's service account, server ${server})`,
  };
}
