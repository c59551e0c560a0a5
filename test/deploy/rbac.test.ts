import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesRun } from '../../src/cli/runKubernetes.js';
import { silentLogger } from '../../src/log.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer, type RecordedCall } from '../k8s/apiServer.js';
import { configAutoscaler, deployment, kubeConfigFor, OWN_NAMESPACE, syncPods } from '../k8s/cluster.js';

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
  spec?: { template?: { spec?: { serviceAccountName?: string } } };
}
/** One granted permission; `namespace` undefined = every namespace and cluster-wide requests. */
interface Grant { group: string; resource: string; verb: string; resourceName: string | undefined; namespace: string | undefined; from: string }

function manifests(dir = 'deploy'): Manifest[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return manifests(path);
    if (!/\.ya?ml$/.test(e.name)) return [];
    return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJSON() as Manifest).filter((m) => m?.kind);
  });
}

/** What the kpa Deployment's service account may do: its roles' rules through the bindings that name it. */
function grantsOfKpa(all: Manifest[]): Grant[] {
  const kpa = all.find((m) => m.kind === 'Deployment' && m.metadata.name === 'kpa')!;
  const account = { name: kpa.spec?.template?.spec?.serviceAccountName ?? 'default', namespace: kpa.metadata.namespace ?? OWN_NAMESPACE };
  const grants: Grant[] = [];
  for (const binding of all.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding')) {
    const bindsKpa = (binding.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === account.name && (s.namespace ?? binding.metadata.namespace) === account.namespace);
    if (!bindsKpa) continue;
    const role = all.find((m) => m.kind === binding.roleRef?.kind && m.metadata.name === binding.roleRef.name &&
      (m.kind === 'ClusterRole' || m.metadata.namespace === binding.metadata.namespace));
    expect(role, `${binding.kind} ${binding.metadata.name} refers to a missing ${binding.roleRef?.kind} ${binding.roleRef?.name}`).toBeDefined();
    // A RoleBinding grants only in its own namespace, even when it refers to a ClusterRole.
    const namespace = binding.kind === 'RoleBinding' ? binding.metadata.namespace ?? OWN_NAMESPACE : undefined;
    for (const r of role!.rules ?? []) for (const group of r.apiGroups) for (const resource of r.resources) for (const verb of r.verbs) {
      for (const resourceName of r.resourceNames?.length ? r.resourceNames : [undefined]) {
        grants.push({ group, resource, verb, resourceName, namespace, from: `${role!.kind} ${role!.metadata.name}` });
      }
    }
  }
  return grants;
}

function allows(g: Grant, c: RecordedCall): boolean {
  const resource = c.subresource ? `${c.resource}/${c.subresource}` : c.resource;
  return (g.group === '*' || g.group === c.group) && (g.resource === '*' || g.resource === resource) && (g.verb === '*' || g.verb === c.verb) &&
    (g.resourceName === undefined || g.resourceName === c.name) && (g.namespace === undefined || g.namespace === c.namespace);
}

const describeCall = (c: RecordedCall) =>
  `${c.verb} ${c.group || 'core'}/${c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.name ? ` "${c.name}"` : ''} in ${c.namespace ?? 'all namespaces'}`;

/**
 * Every API call a full in-cluster run makes: informers in all namespaces and
 * in a list of namespaces, the ConfigMap, a scale patch, leader election from
 * creating the Lease to releasing it.
 */
async function recordFullRun(): Promise<RecordedCall[]> {
  const api = await FakeApiServer.start();
  const qp = await QueueProxyServer.start();
  try {
    api.put('configmaps', configAutoscaler({ 'stable-window': '6s' }));
    api.put('deployments', deployment('web', qp.port));
    syncPods(api, 'web');
    qp.set('metrics', stat(35)); // 35 in flight on one pod, target 7 → a scale-up patch
    for (const namespaces of [[], ['apps', 'team-b']]) {
      const run = await startKubernetesRun({
        kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces, dryRun: false,
        identity: 'kpa-0', ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
      });
      try {
        if (namespaces.length === 0) {
          await until(() => api.calls.some((c) => c.verb === 'patch'), 10_000);
          api.put('configmaps', configAutoscaler({ 'stable-window': '8s' }));
          await until(() => run.live.service.snapshot({ namespace: 'apps', name: 'web' })?.windows.stableWindowSeconds === 8);
        } else {
          await until(() => run.live.service.has({ namespace: 'apps', name: 'web' }));
        }
      } finally {
        await run.close(); // releases the Lease
      }
    }
    return api.calls;
  } finally {
    await qp.close();
    await api.close();
  }
}

describe('RBAC in deploy/ against the API calls the code makes', () => {
  let calls: RecordedCall[];
  let grants: Grant[];
  beforeAll(async () => {
    calls = await recordFullRun();
    grants = grantsOfKpa(manifests());
  }, 30_000);

  it('the full run exercised informers, the scale patch and the Lease', () => {
    const verbs = new Set(calls.map((c) => `${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''}`));
    for (const v of ['list deployments', 'watch deployments', 'watch pods', 'watch configmaps', 'patch deployments/scale', 'create leases', 'update leases']) {
      expect(verbs.has(v), v).toBe(true);
    }
  });

  it('allows every call the code made', () => {
    const denied = [...new Set(calls.filter((c) => !grants.some((g) => allows(g, c))).map(describeCall))];
    expect(denied).toEqual([]);
  });

  it('grants nothing the code does not use', () => {
    const unused = grants.filter((g) => !calls.some((c) => allows(g, c)))
      .map((g) => `${g.from}: ${g.verb} ${g.group || 'core'}/${g.resource}${g.resourceName ? ` "${g.resourceName}"` : ''}`);
    expect(unused).toEqual([]);
  });

  it('uses no wildcards', () => {
    expect(grants.filter((g) => [g.group, g.resource, g.verb].includes('*'))).toEqual([]);
  });
});
