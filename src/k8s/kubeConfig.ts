import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** In-cluster config when running in a pod, else KUBECONFIG; null when neither is there. */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig | null {
  const kc = new KubeConfig();
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    return kc;
  }
  if (env.KUBECONFIG) {
    kc.loadFromFile(env.KUBECONFIG);
    return kc;
  }
  return null;
}
