import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { startActivator } from '../../src/activator/activator.js';
import { KubernetesRoutes } from '../../src/activator/kubernetesRoutes.js';
import { startKubernetesRun } from '../../src/cli/runKubernetes.js';
import { silentLogger } from '../../src/log.js';
import { stat } from '../helpers/engine.js';
import { QueueProxyServer } from '../helpers/queueProxyServer.js';
import { until } from '../helpers/wait.js';
import { FakeApiServer, type RecordedCall } from '../k8s/apiServer.js';
import { APP_NAMESPACE, configAutoscaler, deployment, kubeConfigFor, OWN_NAMESPACE, syncPods } from '../k8s/cluster.js';

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

/** What a Deployment's service account may do: its roles' rules through the bindings that name it. */
function grantsOf(all: Manifest[], deploymentName: string): Grant[] {
  const dep = all.find((m) => m.kind === 'Deployment' && m.metadata.name === deploymentName);
  expect(dep, `Deployment ${deploymentName}`).toBeDefined();
  const account = { name: dep!.spec?.template?.spec?.serviceAccountName ?? 'default', namespace: dep!.metadata.namespace ?? OWN_NAMESPACE };
  const grants: Grant[] = [];
  for (const binding of all.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding')) {
    const bindsAccount = (binding.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === account.name && (s.namespace ?? binding.metadata.namespace) === account.namespace);
    if (!bindsAccount) continue;
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
 * Every API call a full in-cluster `kpa run` makes: informers in all namespaces and
 * in a list of namespaces, the ConfigMap, a scale patch, leader election from
 * creating the Lease to releasing it.
 */
async function recordKpaRun(): Promise<RecordedCall[]> {
  const api = await FakeApiServer.start();
  const qp = await QueueProxyServer.start();
  try {
    api.put('configmaps', configAutoscaler({ 'stable-window': '6s' }));
    api.put('deployments', deployment('web', qp.port));
    syncPods(api, 'web');
    qp.set('metrics', stat(35)); // 35 in flight on one pod, target 7 → a scale-up patch
    // One bucket in all namespaces and in a list of them, then three buckets (membership Leases: listed, and deleted at the end).
    for (const [namespaces, buckets] of [[[], 1], [['apps', 'team-b'], 1], [[], 3]] as const) {
      const run = await startKubernetesRun({
        kubeConfig: kubeConfigFor(api), logger: silentLogger(), host: '127.0.0.1', httpPort: 0, statsPort: 0, namespaces: [...namespaces], dryRun: false, buckets,
        podName: 'kpa-0', ownNamespace: OWN_NAMESPACE, leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.1,
      });
      try {
        if (namespaces.length === 0 && buckets === 1) {
          await until(() => api.calls.some((c) => c.verb === 'patch'), 10_000);
          await until(() => api.calls.some((c) => c.verb === 'create' && c.resource === 'events')); // the patch's KPAScaled Event
          api.put('configmaps', configAutoscaler({ 'stable-window': '8s' }));
          await until(() => run.live.service.snapshot({ namespace: 'apps', name: 'web' })?.windows.stableWindowSeconds === 8);
          // An HPA on the Deployment, removed and put back: KPAConflict, KPAResumed, then the same KPAConflict again (a patch of its count).
          const conflict = { metadata: { name: 'web', namespace: APP_NAMESPACE }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } } };
          const conflicts = () => run.mode.standingDownFor({ namespace: APP_NAMESPACE, name: 'web' }).length;
          api.put('horizontalpodautoscalers', conflict);
          await until(() => conflicts() === 1);
          api.remove('horizontalpodautoscalers', APP_NAMESPACE, 'web');
          await until(() => conflicts() === 0);
          api.put('horizontalpodautoscalers', conflict);
          await until(() => api.calls.some((c) => c.verb === 'patch' && c.resource === 'events'));
          api.remove('horizontalpodautoscalers', APP_NAMESPACE, 'web');
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

/**
 * Every API call a full in-cluster activator run makes: its route informers
 * (list, then watch) in all namespaces and in a list of namespaces, each run
 * until a routed Deployment's endpoint is ready to take requests and it knows
 * its peers from the kpa-activator Service's EndpointSlices (through the
 * cluster-wide slice informer, or one more in its own namespace when the
 * watched namespaces leave that out).
 */
async function recordActivatorRun(): Promise<RecordedCall[]> {
  const api = await FakeApiServer.start();
  try {
    api.put('deployments', {
      metadata: { name: 'web', namespace: APP_NAMESPACE, annotations: { 'autoscaling.knative.dev/class': 'kpa.dev', 'kpa.dev/hosts': 'web.example.com' } },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: {} },
    });
    api.put('services', { metadata: { name: 'web', namespace: APP_NAMESPACE }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    api.put('endpointslices', {
      metadata: { name: 'web-abcde', namespace: APP_NAMESPACE, labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    });
    api.put('endpointslices', {
      metadata: { name: 'kpa-activator-fghij', namespace: OWN_NAMESPACE, labels: { 'kubernetes.io/service-name': 'kpa-activator' } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8012, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }, { addresses: ['10.0.0.2'], conditions: { ready: true } }],
    });
    for (const namespaces of [[], ['apps', 'team-b']]) {
      const before = api.calls.length;
      const activator = await startActivator({
        logger: silentLogger(), host: '127.0.0.1', port: 0, adminPort: 0, podName: 'activator-0',
        routes: (updates) => new KubernetesRoutes(updates, {
          kubeConfig: kubeConfigFor(api), logger: silentLogger(), namespaces, peers: { namespace: OWN_NAMESPACE, service: 'kpa-activator', podIP: '10.0.0.2' },
        }),
      });
      try {
        await until(() => activator.router.size === 1 && [...activator.router.all()].every((t) => t.readyEndpoints.length === 1) &&
          activator.router.peers.selfIndex === 1);
        // Routing needs only the lists; the watches that follow them are part of the run too.
        const watches = 3 * Math.max(1, namespaces.length) + (namespaces.length > 0 && !namespaces.includes(OWN_NAMESPACE) ? 1 : 0);
        await until(() => api.calls.slice(before).filter((c) => c.verb === 'watch').length === watches);
      } finally {
        await activator.close(1_000);
      }
    }
    return api.calls;
  } finally {
    await api.close();
  }
}

const callKey = (c: RecordedCall) => `${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''}`;

interface Account {
  /** The Deployment whose service account is checked. */
  deployment: string;
  record: () => Promise<RecordedCall[]>;
  /** Calls the run must have made, so that "nothing unused" means something. */
  exercised: string[];
}

/** A service account's checks against the calls its workload made: none denied, no grant unused, no wildcard. */
function checkAccount({ deployment: name, record, exercised }: Account, more?: (calls: () => RecordedCall[]) => void): void {
  describe(`the ${name} service account`, () => {
    let calls: RecordedCall[];
    let grants: Grant[];
    beforeAll(async () => {
      calls = await record();
      grants = grantsOf(manifests(), name);
    }, 30_000);

    it('the full run exercised what it is meant to', () => {
      const made = new Set(calls.map(callKey));
      for (const v of exercised) expect(made.has(v), v).toBe(true);
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

    more?.(() => calls);
  });
}

describe('RBAC in deploy/ against the API calls the code makes', () => {
  checkAccount({
    deployment: 'kpa', record: recordKpaRun,
    exercised: [
      'list deployments', 'watch deployments', 'watch pods', 'watch configmaps', 'patch deployments/scale', 'create leases', 'update leases',
      'list horizontalpodautoscalers', 'watch horizontalpodautoscalers', 'list scaledobjects', 'watch scaledobjects', 'create events', 'patch events',
    ],
  }, (calls) => {
    it('reads HPAs and ScaledObjects where it reads Deployments, and writes Events only in the namespaces of the Deployments it scales', () => {
      const made = new Set(calls().map(describeCall));
      for (const resource of ['autoscaling/horizontalpodautoscalers', 'keda.sh/scaledobjects']) {
        for (const verb of ['list', 'watch']) for (const ns of ['all namespaces', 'apps', 'team-b']) expect(made.has(`${verb} ${resource} in ${ns}`), `${verb} ${resource} in ${ns}`).toBe(true);
      }
      expect(calls().filter((c) => c.resource === 'events').every((c) => c.namespace === APP_NAMESPACE)).toBe(true);
    });
  });

  checkAccount({
    deployment: 'kpa-activator', record: recordActivatorRun,
    exercised: ['list deployments', 'watch deployments', 'list services', 'watch services', 'list endpointslices', 'watch endpointslices'],
  }, (calls) => {
    it('the activator only reads: list and watch of Deployments, Services and EndpointSlices, cluster-wide or per watched namespace, and its own Service\'s EndpointSlices in its namespace', () => {
      const made = [...new Set(calls().map(describeCall))].sort();
      const expected = ['apps/deployments', 'core/services', 'discovery.k8s.io/endpointslices'].flatMap((resource) => ['list', 'watch'].flatMap((verb) =>
        ['all namespaces', 'apps', 'team-b'].map((ns) => `${verb} ${resource} in ${ns}`)))
        .concat(['list', 'watch'].map((verb) => `${verb} discovery.k8s.io/endpointslices in ${OWN_NAMESPACE}`)).sort();
      expect(made).toEqual(expected);
    });
  });
});
