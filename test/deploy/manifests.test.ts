import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { autoscalerConfigFromMap } from '../../src/config/autoscalerConfig.js';

type Doc = { kind: string; metadata: { name: string }; [k: string]: unknown };
const docs = (file: string): Doc[] => parseAllDocuments(readFileSync(join('deploy', file), 'utf8')).map((d) => {
  if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return d.toJSON() as Doc;
});

describe('deploy/', () => {
  const kustomization = docs('kustomization.yaml')[0] as unknown as { resources: string[] };
  const all = kustomization.resources.flatMap((f) => docs(f));
  const find = (kind: string) => all.find((d) => d.kind === kind) as Record<string, any>;

  it('every YAML parses and every kustomization resource exists', () => {
    for (const f of readdirSync('deploy').filter((f) => f.endsWith('.yaml'))) expect(() => docs(f)).not.toThrow();
    for (const r of kustomization.resources) expect(existsSync(join('deploy', r)), r).toBe(true);
    expect(existsSync('deploy/Dockerfile')).toBe(true);
  });

  it('runs two non-root replicas with a read-only root filesystem, probes, limits, and a rollout that never waits for a follower', () => {
    const dep = find('Deployment');
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.resources.requests && c.resources.limits).toBeTruthy();
    // Only the leader is ever Ready: a rollout must be allowed to replace every pod without waiting for
    // Readiness, and no PodDisruptionBudget may hold the leader (it would block every drain of its node).
    expect(dep.spec.strategy.rollingUpdate.maxUnavailable).toBe(dep.spec.replicas);
    expect(all.some((d) => d.kind === 'PodDisruptionBudget')).toBe(false);
    expect(find('Service').spec.ports.map((p: { port: number }) => p.port).sort()).toEqual([8080, 9090]);
    expect(find('NetworkPolicy').spec.ingress[0].ports.map((p: { port: number }) => p.port).sort()).toEqual([8080, 9090]);
  });

  it('ships a config-autoscaler that passes Knative validation with Knative defaults', () => {
    const cm = all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'config-autoscaler') as unknown as { data: Record<string, string> };
    const { _example: _doc, ...data } = cm.data;
    expect(autoscalerConfigFromMap(data)).toEqual(autoscalerConfigFromMap({}));
  });

  it('the example Deployment opts in with the kpa.dev class', () => {
    const [ex] = docs('examples/hello-deployment.yaml') as Record<string, any>[];
    expect(ex.metadata.annotations['autoscaling.knative.dev/class']).toBe('kpa.dev');
  });
});
