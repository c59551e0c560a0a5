import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * In-cluster config when running in a pod, else KUBECONFIG; null when neither
 * is there. KUBECONFIG may list several files, as for kubectl: missing ones
 * are skipped, the rest merged, and the first file's current context wins.
 */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig | null {
  const kc = new KubeConfig();
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    return kc;
  }
  if (!env.KUBECONFIG) return null;
  const listed = env.KUBECONFIG.split(delimiter).filter(Boolean);
  const files = listed.filter((file) => existsSync(file));
  if (files.length === 0) throw new Error(`KUBECONFIG=${env.KUBECONFIG}: no such file${listed.length > 1 ? 's' : ''}`);
  kc.loadFromFile(files[0]);
  for (const file of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    // The first file to define a name wins, as kubectl merges.
    more.clusters = more.clusters.filter((c) => !kc.clusters.some((x) => x.name === c.name));
    more.users = more.users.filter((u) => !kc.users.some((x) => x.name === u.name));
    more.contexts = more.contexts.filter((c) => !kc.contexts.some((x) => x.name === c.name));
    kc.mergeConfig(more, Boolean(kc.currentContext));
  }
  return kc;
}
