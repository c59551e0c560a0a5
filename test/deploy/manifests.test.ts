import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN_PORT, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_PROXY_PORT } from '../../src/activator/activator.js';
import { DEFAULT_PEERS_SERVICE } from '../../src/cli/activatorCommand.js';
import { CONFIG_KEYS, autoscalerConfigFromMap } from '../../src/config/autoscalerConfig.js';
import { resolveRevision } from '../../src/config/revisionConfig.js';
import { activatorRoute, metricsSource, selectorMatches, settingsFor } from '../../src/k8s/deploymentTarget.js';

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(join('deploy', file), 'utf8')).map((d) => {
  if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return d.toJSON() as Doc;
});

interface ContainerPort { name?: string; containerPort: number }
interface ServicePort { name?: string; port: number; targetPort?: number | string }

/** The container port a probe or a Service's targetPort names (by number or by port name). */
function containerPort(container: { ports?: ContainerPort[] }, ref: number | string | undefined): number | undefined {
  if (typeof ref === 'number') return ref;
  return container.ports?.find((p) => p.name === ref)?.containerPort;
}

/** The Service port an Ingress or HTTPRoute backend names (by number or by port name). */
function servicePort(service: Record<string, any>, ref: { number?: number; name?: string } | number): ServicePort | undefined {
  const ports = service.spec.ports as ServicePort[];
  if (typeof ref === 'number') return ports.find((p) => p.port === ref);
  return ports.find((p) => (ref.number !== undefined ? p.port === ref.number : p.name === ref.name));
}

/** A flag's value in a container's args (`--flag value` or `--flag=value`). */
function flag(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i === -1) return undefined;
  return args[i].includes('=') ? args[i].slice(name.length + 1) : args[i + 1];
}

/** An env var's source (value or valueFrom). */
function env(container: { env?: { name: string }[] }, name: string): Record<string, unknown> | undefined {
  const found = container.env?.find((e) => e.name === name);
  if (!found) return undefined;
  const { name: _name, ...rest } = found;
  return rest;
}

/** A pod that may try to connect: its namespace, that namespace's labels and its own. */
interface Source { namespace: string; namespaceLabels?: Record<string, string>; podLabels: Record<string, string> }

/**
 * Whether a NetworkPolicy admits `source` to `port` of the pods it selects, by the API's rules:
 * some ingress rule lists the port (no ports: every port) and has no `from` (anyone) or a peer
 * that matches — a podSelector alone means pods of the policy's own namespace, a
 * namespaceSelector alone every pod of the matching namespaces, both together the matching
 * pods of the matching namespaces. Namespaces carry kubernetes.io/metadata.name, as the API sets it.
 */
function admits(policy: Record<string, any>, source: Source, port: number): boolean {
  const nsLabels = { ...source.namespaceLabels, 'kubernetes.io/metadata.name': source.namespace };
  const peerMatches = (peer: Record<string, any>): boolean => {
    if (peer.ipBlock) return false;
    const podOk = peer.podSelector === undefined || selectorMatches(peer.podSelector, source.podLabels);
    const nsOk = peer.namespaceSelector === undefined ? source.namespace === policy.metadata.namespace : selectorMatches(peer.namespaceSelector, nsLabels);
    return podOk && nsOk;
  };
  return (policy.spec.ingress as Record<string, any>[] ?? []).some((rule) =>
    (rule.ports === undefined || rule.ports.some((p: { port: number }) => p.port === port)) &&
    (rule.from === undefined || rule.from.some(peerMatches)));
}

describe('deploy/', () => {
  const kustomization = docs('kustomization.yaml')[0] as unknown as { resources: string[] };
  const all = kustomization.resources.flatMap((f) => docs(f));
  const named = (kind: string, name: string) => {
    const doc = all.find((d) => d.kind === kind && d.metadata.name === name) as Record<string, any> | undefined;
    if (!doc) throw new Error(`deploy/ has no ${kind} ${name}`);
    return doc;
  };
  /** Whether a selector-bearing object (PDB, Service, NetworkPolicy) picks the Deployment's pods. */
  const selectsPods = (selector: Record<string, any> | undefined, dep: Record<string, any>) =>
    selector !== undefined && selectorMatches(selector, dep.spec.template.metadata.labels);

  it('every YAML parses and every kustomization resource exists', () => {
    for (const f of readdirSync('deploy').filter((f) => f.endsWith('.yaml'))) expect(() => docs(f)).not.toThrow();
    for (const r of kustomization.resources) expect(existsSync(join('deploy', r)), r).toBe(true);
    expect(existsSync('deploy/Dockerfile')).toBe(true);
  });

  it('runs two non-root replicas with a read-only root filesystem, probes, limits, the pod IP, an ordinary rollout and a PodDisruptionBudget', () => {
    const dep = named('Deployment', 'kpa');
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.resources.requests && c.resources.limits).toBeTruthy();
    // Every replica is Ready once it serves: a rollout waits for a new pod before an old one goes, and a
    // drain may take one replica at a time (the other holds or takes every bucket).
    expect(dep.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const budgets = all.filter((d) => d.kind === 'PodDisruptionBudget' && selectsPods((d as Record<string, any>).spec.selector, dep));
    expect(budgets.map((b) => (b as Record<string, any>).spec)).toEqual([{ minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'kpa' } } }]);
    // The bucket Leases name their holder POD_NAME_POD_IP: replicas forward stats to that IP.
    expect(c.env).toEqual(expect.arrayContaining([{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }]));
    expect(named('Service', 'kpa').spec.ports.map((p: { port: number }) => p.port).sort()).toEqual([8080, 9090]);
  });

  describe('who may reach kpa (its NetworkPolicy)', () => {
    const policy = named('NetworkPolicy', 'kpa');
    const kpa = named('Deployment', 'kpa');
    const c = kpa.spec.template.spec.containers[0];
    const statsPort = containerPort(c, 'ws-stats')!;
    const metricsPort = containerPort(c, 'http-metrics')!;
    const activatorLabels = named('Deployment', 'kpa-activator').spec.template.metadata.labels as Record<string, string>;
    const monitoring = { namespace: 'monitoring', namespaceLabels: { 'kpa.dev/monitoring': 'true' }, podLabels: { app: 'prometheus' } };
    it.each<[string, Source, number, boolean]>([
      ["kpa's activators, as deploy/ labels them", { namespace: 'kpa-system', podLabels: activatorLabels }, statsPort, true],
      ["kpa's activators deployed in another namespace", { namespace: 'edge', podLabels: activatorLabels }, statsPort, true],
      ["Knative's activator in knative-serving", { namespace: 'knative-serving', podLabels: { app: 'activator' } }, statsPort, true],
      ['a pod claiming to be Knative\'s activator elsewhere', { namespace: 'default', podLabels: { app: 'activator' } }, statsPort, false],
      ['any other pod, to the stats port', { namespace: 'default', podLabels: { app: 'hello' } }, statsPort, false],
      ['another kpa replica, forwarding stats to an owner', { namespace: 'kpa-system', podLabels: kpa.spec.template.metadata.labels }, statsPort, true],
      ['a pod in kpa-system, to the stats port', { namespace: 'kpa-system', podLabels: { app: 'debug' } }, statsPort, false],
      ['Prometheus in a namespace labelled for monitoring', monitoring, metricsPort, true],
      ['Prometheus in an unlabelled namespace', { ...monitoring, namespaceLabels: {} }, metricsPort, false],
      ['a pod of kpa-system, to the API', { namespace: 'kpa-system', podLabels: { app: 'debug' } }, metricsPort, true],
      ['any other pod, to the API and dashboard', { namespace: 'default', podLabels: { app: 'hello' } }, metricsPort, false],
      ['Prometheus, to the stats port', monitoring, statsPort, false],
      ['an activator, to a port kpa does not serve', { namespace: 'kpa-system', podLabels: activatorLabels }, 9999, false],
    ])('%s → %s', (_what, source, port, admitted) => {
      expect(selectsPods(policy.spec.podSelector, kpa)).toBe(true);
      expect(admits(policy, source, port)).toBe(admitted);
    });

    it('admits the activator on the port its --stats-url names through the Service', () => {
      const args: string[] = named('Deployment', 'kpa-activator').spec.template.spec.containers[0].args;
      const url = new URL(flag(args, '--stats-url')!);
      const svcPort = servicePort(named('Service', 'kpa'), Number(url.port))!;
      expect(admits(policy, { namespace: 'kpa-system', podLabels: activatorLabels }, containerPort(c, svcPort.targetPort ?? svcPort.port)!)).toBe(true);
    });
  });

  describe('config-autoscaler, in Knative\'s convention', () => {
    const cm = named('ConfigMap', 'config-autoscaler') as { data: Record<string, string> };
    /** The `key: "value"` lines of the _example block (its comments aside). */
    const example = Object.fromEntries(cm.data._example.split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
      .map((l) => {
        const m = /^([a-z-]+): "([^"]*)"$/.exec(l.trim());
        if (!m) throw new Error(`config-autoscaler _example: not a key: "value" line: ${l}`);
        return [m[1], m[2]];
      }));

    it('keeps the defaults in the code: data holds only the _example block', () => {
      expect(Object.keys(cm.data)).toEqual(['_example']);
    });

    it('documents every key kpa reads, each at its default', () => {
      expect(Object.keys(example).sort()).toEqual([...CONFIG_KEYS].sort());
      expect(autoscalerConfigFromMap(example)).toEqual(autoscalerConfigFromMap({}));
      // Each key alone, too: a wrong default cannot hide behind another key's.
      for (const [key, value] of Object.entries(example)) expect(autoscalerConfigFromMap({ [key]: value }), key).toEqual(autoscalerConfigFromMap({}));
    });
  });

  describe('kpa activator', () => {
    const dep = named('Deployment', 'kpa-activator');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    const args: string[] = c.args;
    const adminPort = Number(flag(args, '--admin-port') ?? DEFAULT_ADMIN_PORT);
    const proxyPort = Number(flag(args, '--port') ?? DEFAULT_PROXY_PORT);

    it('runs `kpa activator` from kpa\'s image, two replicas under its own service account, rolled out without losing capacity', () => {
      expect(args[0]).toBe('activator');
      expect(c.image).toBe(named('Deployment', 'kpa').spec.template.spec.containers[0].image);
      expect(dep.spec.replicas).toBe(2);
      expect(pod.serviceAccountName).toBe('kpa-activator');
      expect(selectorMatches(dep.spec.selector, dep.spec.template.metadata.labels)).toBe(true);
      // Every replica becomes Ready (no leader): a rollout may wait for Readiness and keep them all serving.
      expect(dep.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    });

    it('a PodDisruptionBudget keeps one of its pods through drains, and still lets a node drain', () => {
      const pdbs = all.filter((d) => d.kind === 'PodDisruptionBudget' && selectsPods((d as Record<string, any>).spec.selector, dep)) as Record<string, any>[];
      expect(pdbs.map((p) => p.metadata.name)).toEqual(['kpa-activator']);
      expect(pdbs[0].metadata.namespace).toBe(dep.metadata.namespace);
      expect(pdbs[0].spec.minAvailable).toBeGreaterThanOrEqual(1);
      expect(pdbs[0].spec.minAvailable).toBeLessThan(dep.spec.replicas);
    });

    it('runs non-root with a read-only root filesystem, no capabilities and the runtime\'s seccomp profile', () => {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.resources.requests.memory && c.resources.limits.memory).toBeTruthy();
    });

    it('probes /readyz and /healthz on the admin port, and serves the proxy on its port', () => {
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(containerPort(c, c.readinessProbe.httpGet.port)).toBe(adminPort);
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(containerPort(c, c.livenessProbe.httpGet.port)).toBe(adminPort);
      expect((c.ports as ContainerPort[]).map((p) => p.containerPort).sort()).toEqual([proxyPort, adminPort].sort());
    });

    it('is given time to drain: the grace period outlasts preStop and --drain-timeout', () => {
      const drainTimeout = flag(args, '--drain-timeout') ?? `${DEFAULT_DRAIN_TIMEOUT_MS / 1000}s`;
      expect(drainTimeout).toMatch(/^\d+s$/);
      const drainSeconds = parseInt(drainTimeout, 10);
      const preStopSeconds = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(preStopSeconds).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + drainSeconds);
      expect(env(c, 'POD_NAME')).toEqual({ valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    });

    it('its Service sends port 80 to the proxy port and exposes the admin port', () => {
      const svc = named('Service', 'kpa-activator');
      expect(svc.metadata.namespace).toBe(dep.metadata.namespace);
      expect(selectsPods({ matchLabels: svc.spec.selector }, dep)).toBe(true);
      const http = servicePort(svc, 80)!;
      expect(containerPort(c, http.targetPort ?? http.port)).toBe(proxyPort);
      expect((svc.spec.ports as ServicePort[]).map((p) => containerPort(c, p.targetPort ?? p.port))).toContain(adminPort);
    });

    it('learns its peers from its own Service: --peers-service names the Service that selects exactly its pods, in POD_NAMESPACE, found by POD_IP', () => {
      const name = flag(args, '--peers-service') ?? DEFAULT_PEERS_SERVICE;
      const svc = named('Service', name);
      expect(svc.metadata.namespace).toBe(dep.metadata.namespace);
      expect(selectsPods({ matchLabels: svc.spec.selector }, dep)).toBe(true);
      // Only activator pods: any other pod behind it would be counted as a peer and take a share.
      for (const other of all.filter((d) => d.kind === 'Deployment' && d !== dep) as Record<string, any>[]) {
        expect(selectsPods({ matchLabels: svc.spec.selector }, other), other.metadata.name).toBe(false);
      }
      expect(svc.spec.publishNotReadyAddresses ?? false).toBe(false);
      expect(env(c, 'POD_IP')).toEqual({ valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
      expect(env(c, 'POD_NAMESPACE')).toEqual({ valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    });

    it('--stats-url points at the kpa Service\'s ws-stats port', () => {
      const url = new URL(flag(args, '--stats-url')!);
      expect(url.protocol).toBe('ws:');
      const kpa = named('Service', 'kpa');
      // SERVICE.NAMESPACE.svc[.cluster.local]
      const [service, namespace, svc] = url.hostname.split('.');
      expect({ service, namespace, svc }).toEqual({ service: kpa.metadata.name, namespace: kpa.metadata.namespace, svc: 'svc' });
      expect(Number(url.port)).toBe(servicePort(kpa, { name: 'ws-stats' })!.port);
    });

    it('its NetworkPolicy admits the proxy from anywhere and /metrics only from monitoring namespaces', () => {
      const policies = all.filter((d) => d.kind === 'NetworkPolicy' && selectsPods((d as Record<string, any>).spec.podSelector, dep)) as Record<string, any>[];
      expect(policies.map((p) => p.metadata.name)).toEqual(['kpa-activator']);
      const ingressController = { namespace: 'ingress-nginx', podLabels: { app: 'ingress-nginx' } };
      const prometheus = { namespace: 'monitoring', namespaceLabels: { 'kpa.dev/monitoring': 'true' }, podLabels: { app: 'prometheus' } };
      expect(admits(policies[0], ingressController, proxyPort)).toBe(true);
      expect(admits(policies[0], ingressController, adminPort)).toBe(false);
      expect(admits(policies[0], prometheus, adminPort)).toBe(true);
      expect(admits(policies[0], { ...prometheus, namespaceLabels: {} }, adminPort)).toBe(false);
    });
  });

  describe('examples/', () => {
    const examples = readdirSync('deploy/examples').filter((f) => /\.ya?ml$/.test(f)).flatMap((f) => docs(join('examples', f))) as Record<string, any>[];
    const example = (kind: string) => examples.filter((d) => d.kind === kind);
    const hello = example('Deployment').find((d) => d.metadata.name === 'hello')!;
    const activatorService = named('Service', 'kpa-activator');
    const activatorContainer = named('Deployment', 'kpa-activator').spec.template.spec.containers[0];
    const route = () => activatorRoute(hello as never)!;

    it('are applied on their own, not with the kustomization', () => {
      expect(kustomization.resources.filter((r) => r.startsWith('examples'))).toEqual([]);
    });

    it('the hello Deployment opts in with the kpa.dev class, is routed by the activator, and may go to zero', () => {
      expect(hello.metadata.annotations['autoscaling.knative.dev/class']).toBe('kpa.dev');
      expect(route().hosts.length).toBeGreaterThan(0);
      expect(metricsSource(hello as never)).toBe('activator');
      const cm = named('ConfigMap', 'config-autoscaler') as { data: Record<string, string> };
      const { _example: _doc, ...data } = cm.data;
      const settings = settingsFor(hello as never, data);
      expect(settings.containerConcurrency).toBeGreaterThan(0);
      expect(() => resolveRevision(settings)).not.toThrow();
      expect(Number(hello.metadata.annotations['autoscaling.knative.dev/min-scale'] ?? '0')).toBe(0);
    });

    it('its Service (kpa.dev/service) selects its pods and reaches a container port', () => {
      const svc = example('Service').find((s) => s.metadata.name === route().service.name && s.metadata.namespace === hello.metadata.namespace)!;
      expect(svc).toBeDefined();
      expect(selectsPods({ matchLabels: svc.spec.selector }, hello)).toBe(true);
      const port = servicePort(svc, route().service.port)!;
      expect(port).toBeDefined();
      const container = hello.spec.template.spec.containers[0];
      expect((container.ports as ContainerPort[]).map((p) => p.containerPort)).toContain(containerPort(container, port.targetPort ?? port.port));
    });

    /** The activator Service's port that `ref` names must be the one in front of the proxy. */
    const expectProxyPort = (ref: { number?: number; name?: string } | number) => {
      const port = servicePort(activatorService, ref);
      expect(port, JSON.stringify(ref)).toBeDefined();
      expect(containerPort(activatorContainer, port!.targetPort ?? port!.port)).toBe(DEFAULT_PROXY_PORT);
    };

    it('the Ingress sends the hello hosts to the activator\'s Service, from the Service\'s namespace', () => {
      const [ingress, ...more] = example('Ingress');
      expect(more).toEqual([]);
      // An Ingress backend can only be a Service in the Ingress's own namespace.
      expect(ingress.metadata.namespace).toBe(activatorService.metadata.namespace);
      expect(ingress.spec.rules.map((r: { host: string }) => r.host).sort()).toEqual([...route().hosts].sort());
      for (const rule of ingress.spec.rules) {
        for (const path of rule.http.paths) {
          expect(path.backend.service.name).toBe(activatorService.metadata.name);
          expectProxyPort(path.backend.service.port);
        }
      }
    });

    it('the HTTPRoute sends the hello hosts to the activator\'s Service, which a ReferenceGrant opens to it', () => {
      const [httpRoute, ...more] = example('HTTPRoute');
      expect(more).toEqual([]);
      expect([...httpRoute.spec.hostnames].sort()).toEqual([...route().hosts].sort());
      expect(httpRoute.spec.parentRefs.length).toBeGreaterThan(0);
      const backends = httpRoute.spec.rules.flatMap((r: { backendRefs: unknown[] }) => r.backendRefs) as Record<string, any>[];
      expect(backends.length).toBeGreaterThan(0);
      for (const b of backends) {
        expect({ kind: b.kind ?? 'Service', group: b.group ?? '', name: b.name, namespace: b.namespace ?? httpRoute.metadata.namespace })
          .toEqual({ kind: 'Service', group: '', name: activatorService.metadata.name, namespace: activatorService.metadata.namespace });
        expectProxyPort(b.port);
        const granted = example('ReferenceGrant').some((g) => g.metadata.namespace === b.namespace &&
          g.spec.from.some((f: Record<string, string>) => f.group === 'gateway.networking.k8s.io' && f.kind === 'HTTPRoute' && f.namespace === httpRoute.metadata.namespace) &&
          g.spec.to.some((t: Record<string, string>) => t.group === '' && t.kind === 'Service' && (t.name === undefined || t.name === b.name)));
        expect(granted, `a ReferenceGrant in ${b.namespace} for HTTPRoutes from ${httpRoute.metadata.namespace}`).toBe(true);
      }
    });
  });
});
